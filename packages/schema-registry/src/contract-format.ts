import { Ajv, type ErrorObject } from 'ajv';
import { DURATION_PATTERN, TIMEOUT_ACTIONS, type TimeoutAction } from '@troupe/core';

const FULL_NAME = '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$';
const NAME = '^[a-z][a-z0-9-]*$';
const ATTRIBUTE = '^[a-zA-Z][a-zA-Z0-9_]*$';
const FIELD_PATH = '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$';

const eventRef = { type: 'string', pattern: FULL_NAME } as const;

const STEP_FORMAT = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'participant', 'completed', 'failed'],
  properties: {
    name: { type: 'string', pattern: NAME },
    participant: { type: 'string', pattern: NAME },
    completed: eventRef,
    failed: eventRef,
    compensated: eventRef,
    compensationFailed: eventRef,
    within: { type: 'string', pattern: DURATION_PATTERN },
    onTimeout: { type: 'string', enum: TIMEOUT_ACTIONS },
    optional: { type: 'boolean' },
  },
} as const;

/** A parallel group: its branches (one step each) start together; the next step waits for all. */
const GROUP_FORMAT = {
  type: 'object',
  additionalProperties: false,
  required: ['parallel', 'branches'],
  properties: {
    parallel: { type: 'string', pattern: NAME },
    branches: { type: 'array', minItems: 2, items: STEP_FORMAT },
  },
} as const;

/**
 * JSON Schema of `*.saga.yaml`. Kept strict (no unknown keys) so a misspelt key such as
 * `compensate:` is reported instead of silently ignored.
 */
export const SAGA_CONTRACT_FORMAT = {
  type: 'object',
  additionalProperties: false,
  required: ['saga', 'start', 'steps', 'end'],
  properties: {
    saga: { type: 'string', pattern: NAME },
    version: { type: 'integer', minimum: 1 },
    initiator: { type: 'string', pattern: NAME },
    start: eventRef,
    deadline: { type: 'string', pattern: DURATION_PATTERN },
    onTimeout: { type: 'string', enum: TIMEOUT_ACTIONS },
    steps: {
      type: 'array',
      minItems: 1,
      // An entry with `parallel` is a group (fork/join), any other entry is a step.
      items: { if: { type: 'object', required: ['parallel'], properties: { parallel: true } }, then: GROUP_FORMAT, else: STEP_FORMAT },
    },
    end: {
      type: 'object',
      additionalProperties: false,
      required: ['completed', 'aborted'],
      properties: { completed: eventRef, aborted: eventRef },
    },
    attributes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'from', 'field'],
        properties: {
          name: { type: 'string', pattern: ATTRIBUTE },
          from: eventRef,
          field: { type: 'string', pattern: FIELD_PATH },
        },
      },
    },
  },
} as const;

/** One step as written in YAML (also a branch of a parallel group). */
export interface StepDocument {
  name: string;
  participant: string;
  completed: string;
  failed: string;
  compensated?: string;
  compensationFailed?: string;
  within?: string;
  onTimeout?: TimeoutAction;
  optional?: boolean;
}

/** The contract as written in YAML, after {@link validateContractFormat} accepted it. */
export interface SagaContractDocument {
  saga: string;
  version?: number;
  initiator?: string;
  start: string;
  deadline?: string;
  onTimeout?: TimeoutAction;
  steps: (StepDocument | { parallel: string; branches: StepDocument[] })[];
  end: { completed: string; aborted: string };
  attributes?: { name: string; from: string; field: string }[];
}

/** A format problem: JSON-pointer-like path segments into the document, and what to fix. */
export interface FormatProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile<SagaContractDocument>(SAGA_CONTRACT_FORMAT);

function advice(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `missing '${String(p['missingProperty'])}'${p['missingProperty'] === 'participant' ? ': name the service that owns this step, e.g. participant: payment-service' : ''}`;
    case 'additionalProperties':
      return `unknown key '${String(p['additionalProperty'])}' (allowed: ${Object.keys(allowedKeys(e.schemaPath)).join(', ')})`;
    case 'pattern':
      if (e.schemaPath.includes('deadline') || e.schemaPath.includes('within')) return 'must be a duration such as 250ms, 30s, 5m or 1h';
      if (String(p['pattern']) === FULL_NAME) return 'must be an event type full name such as com.acme.orders.OrderPlaced';
      if (String(p['pattern']) === ATTRIBUTE) return 'must be a name such as customerId (letters, digits, _)';
      if (String(p['pattern']) === FIELD_PATH) return 'must be a payload field path such as shippingAddress.country';
      return 'must be lower-case letters, digits and dashes, e.g. order-fulfillment';
    case 'enum':
      return `must be one of ${((p['allowedValues'] as unknown[] | undefined) ?? []).join(', ')}`;
    case 'minItems':
      if (e.instancePath.endsWith('/branches'))
        return 'a parallel group needs at least two branches; write a single step without parallel/branches';
      return 'must list at least one step';
    case 'minimum':
    case 'type':
      if (e.instancePath === '/version') return 'must be a whole number from 1, e.g. version: 2';
      return e.message ?? 'is invalid';
    default:
      return e.message ?? 'is invalid';
  }
}

function allowedKeys(schemaPath: string): Record<string, unknown> {
  if (schemaPath.includes('/branches/')) return STEP_FORMAT.properties;
  if (schemaPath.includes('/steps/items/then/')) return GROUP_FORMAT.properties;
  if (schemaPath.includes('/steps/')) return STEP_FORMAT.properties;
  if (schemaPath.includes('/end/')) return SAGA_CONTRACT_FORMAT.properties.end.properties;
  if (schemaPath.includes('/attributes/')) return SAGA_CONTRACT_FORMAT.properties.attributes.items.properties;
  return SAGA_CONTRACT_FORMAT.properties;
}

/** Checks a parsed YAML value against {@link SAGA_CONTRACT_FORMAT}; every problem, not just the first. */
export function validateContractFormat(doc: unknown): { ok: true; doc: SagaContractDocument } | { ok: false; problems: FormatProblem[] } {
  if (validate(doc)) return { ok: true, doc };
  // An `if` error only says that `then` failed; the `then`/`else` errors say what to fix.
  const problems = (validate.errors ?? [])
    .filter((e) => e.keyword !== 'if')
    .map((e) => ({
      path: e.instancePath
        .split('/')
        .slice(1)
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~'))),
      message: advice(e),
    }));
  return { ok: false, problems };
}
