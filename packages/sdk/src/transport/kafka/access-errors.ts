import { describeError, SdkError } from '../../errors.js';

/** Kafka's authorisation error types, as kafkajs names them, and what each is about. */
const AUTHORIZATION_TYPES: Readonly<Record<string, string>> = {
  TOPIC_AUTHORIZATION_FAILED: 'a topic',
  GROUP_AUTHORIZATION_FAILED: 'the consumer group',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'the transactional id',
  CLUSTER_AUTHORIZATION_FAILED: 'the cluster (idempotent write or topic creation)',
};

/** The kafkajs error types in `err` and the errors it wraps. */
export function errorTypes(err: unknown, depth = 0): string[] {
  if (typeof err !== 'object' || err === null || depth > 4) return [];
  const e = err as { type?: unknown; errors?: unknown; cause?: unknown; originalError?: unknown };
  const own = typeof e.type === 'string' ? [e.type] : [];
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => errorTypes(x, depth + 1)) : [];
  return [...own, ...nested, ...errorTypes(e.cause, depth + 1), ...errorTypes(e.originalError, depth + 1)];
}

function isSaslFailure(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 4) return false;
  const e = err as { name?: unknown; cause?: unknown; originalError?: unknown };
  return e.name === 'KafkaJSSASLAuthenticationError' || isSaslFailure(e.cause, depth + 1) || isSaslFailure(e.originalError, depth + 1);
}

/**
 * Turns a broker's refusal into a typed SdkError that says what to grant, or returns undefined
 * when `err` is no access problem. `NOT_AUTHORIZED` and `AUTHENTICATION_FAILED` are not retriable:
 * trying again cannot help until an operator changes ACLs or credentials.
 */
export function accessError(err: unknown, action: string, principal: string | undefined): SdkError | undefined {
  const who = principal === undefined ? 'this client' : `User:${principal}`;
  if (isSaslFailure(err)) {
    return new SdkError(
      'AUTHENTICATION_FAILED',
      `${action}: the broker refused the credentials of ${who} (${describeError(err)}). Check the SASL mechanism, user name and password ` +
        '(KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD).',
      { cause: err },
    );
  }
  const denied = [...new Set(errorTypes(err).filter((t) => t in AUTHORIZATION_TYPES))];
  if (denied.length === 0) return undefined;
  const what = denied.map((t) => `${AUTHORIZATION_TYPES[t] ?? t} (${t})`).join(', ');
  return new SdkError(
    'NOT_AUTHORIZED',
    `${action}: ${who} is not allowed to use ${what}. Grant the ACLs this service needs — ` +
      '`troupe-schemas acl` prints them from the saga contracts — or, if this topic belongs to another service, emit only the events this service owns.',
    { cause: err },
  );
}

/** Re-throws `err` as a typed access error when it is one, otherwise unchanged. */
export function rethrowAccess(err: unknown, action: string, principal: string | undefined): never {
  throw accessError(err, action, principal) ?? err;
}
