import type { CatalogEvent } from '../catalog.js';
import { SchemaRegistryError } from '../errors.js';
import {
  actsOnTime,
  controlTopicOf,
  deadLetterTopicOf,
  READER_GROUP_PREFIX,
  retryTopicOf,
  inboxTopicOf,
  TRACKER_GROUP,
  timerTopicOf,
  transactionalIdPrefixOf,
  compensationTriggersOf,
  continuingOutcomes,
  contractStages,
  stepAwaits,
  type SagaContract,
} from '@troupe/core';

export type AclResourceType = 'TOPIC' | 'GROUP' | 'TRANSACTIONAL_ID' | 'CLUSTER';
export type AclPatternType = 'LITERAL' | 'PREFIXED';
export type AclOperation = 'READ' | 'WRITE' | 'DESCRIBE' | 'CREATE' | 'IDEMPOTENT_WRITE';

/** One ALLOW rule, in the words of Kafka's ACL API (and of kafkajs's `createAcls`). */
export interface AclEntry {
  readonly principal: string;
  readonly resourceType: AclResourceType;
  readonly resourceName: string;
  readonly patternType: AclPatternType;
  readonly operation: AclOperation;
  readonly host: '*';
  readonly permission: 'ALLOW';
}

export type AclRole = 'participant' | 'publisher' | 'tracker' | 'operator';

/** What one service needs, and the topics behind it (for people reading the plan). */
export interface ServiceAcls {
  readonly service: string;
  readonly role: AclRole;
  readonly principal: string;
  readonly reads: readonly string[];
  readonly writes: readonly string[];
  readonly acls: readonly AclEntry[];
}

export interface AclPlanOptions {
  /**
   * Grant CREATE on the topics a service touches, because the SDK creates missing topics at
   * start. Turn off when a platform team creates topics beforehand.
   * @default true
   */
  readonly autoCreate?: boolean;
  /** Participants that run with `retryTopic` enabled (their `<group>.retry` topic and reader groups). @default [] */
  readonly retryTopic?: readonly string[];
  /**
   * Participants keep their inbox on `<group>.inbox` (the SDK's default, ADR 0011): grant it and the
   * reader groups that read it back. Turn off for participants started with `inbox: false`.
   * @default true
   */
  readonly inbox?: boolean;
  /**
   * Participants that run with timers beyond what the contracts show: `ctx.schedule` (`timers: {}`),
   * or an initiator that answers `troupe-saga abort` for a contract that does not act on time (it
   * passes a `timeoutEvent` for the abort event). Initiators of contracts that act on time (an
   * `onTimeout` other than report-only) get their timer and control topics without being listed.
   * @default []
   */
  readonly timers?: readonly string[];
  /** Principal of the operators who run `troupe-saga abort`. @default 'troupe-operator' */
  readonly operator?: string;
  /** Extra topics a participant reads through `on(...)` handlers the contracts do not show. @default {} */
  readonly extraReads?: Readonly<Record<string, readonly string[]>>;
  /** Principal of the publisher that starts sagas. @default 'publisher' */
  readonly publisher?: string;
  /** Principal of the tracker. @default 'troupe-tracker' */
  readonly tracker?: string;
  /** Principal for a service name. @default (name) => `User:${name}` */
  readonly principalOf?: (service: string) => string;
}

interface Needs {
  readonly role: AclRole;
  readonly reads: Set<string>;
  readonly writes: Set<string>;
  /** Topics it reads and writes back (its timer topic, the control topics it answers). */
  readonly own: Set<string>;
}

/**
 * The least ACLs each service of the contracts needs with the SDK's defaults (group id = participant
 * name, dead letters to `<input>.dlq`, transactional ids `troupe-<group>-<partition>`, ADR 0009).
 *
 * Reads come from the choreography: a step's participant reads what it awaits (the start event,
 * else the previous step's outcome, or every branch's after a parallel group), the saga's start
 * topic (the saga's input, which later steps commonly keep), and — when the step compensates — the
 * `failed` events of its sibling branches and later steps. The initiator reads the last stage's
 * outcomes and every step's `failed` to end the saga.
 * Writes are the events each one owns. `on(...)` handlers beyond that go in `extraReads`.
 *
 * Time (docs/time.md): the initiator of a contract that acts on time (or one listed in `timers`)
 * keeps its saga clock: it reads every topic of the contract, reads and writes its timer topic
 * `<initiator>.timers` and the saga type's control topic `<saga>.control` (requests in, answers
 * out). Operators running `troupe-saga abort` write requests to the control topics and read the
 * answers back.
 */
export function planAcls(
  contracts: readonly SagaContract[],
  events: readonly Pick<CatalogEvent, 'name' | 'topic'>[],
  options: AclPlanOptions = {},
): ServiceAcls[] {
  const topicOf = new Map(events.map((e) => [e.name, e.topic]));
  const topic = (eventName: string): string => {
    const found = topicOf.get(eventName);
    if (found === undefined) {
      throw new SchemaRegistryError(
        'UNKNOWN_EVENT_TYPE',
        `event type ${eventName} of a saga contract has no schema in the catalog; add schemas/<topic>/${eventName.split('.').pop() ?? eventName}.avsc`,
      );
    }
    return found;
  };
  const participants = new Map<string, Needs>();
  const need = (service: string, role: AclRole): Needs => {
    let n = participants.get(service);
    if (!n) participants.set(service, (n = { role, reads: new Set(), writes: new Set(), own: new Set() }));
    return n;
  };
  const publisherName = options.publisher ?? 'publisher';
  const trackerName = options.tracker ?? 'troupe-tracker';
  const publisher = { role: 'publisher' as const, reads: new Set<string>(), writes: new Set<string>() };
  const tracker = { role: 'tracker' as const, reads: new Set<string>(), writes: new Set<string>() };
  const timed = new Set(options.timers ?? []);
  const controlTopics = new Set<string>();

  for (const c of contracts) {
    const start = topic(c.start);
    publisher.writes.add(start);
    for (const step of c.steps) {
      const n = need(step.participant, 'participant');
      // What it awaits: the start, the previous step's outcome, or every branch of a parallel group.
      for (const e of stepAwaits(c, step.name).flat()) n.reads.add(topic(e));
      n.reads.add(start);
      if (step.compensated !== undefined) for (const e of compensationTriggersOf(c, step.name)) n.reads.add(topic(e));
      for (const e of [step.completed, step.failed, step.compensated, step.compensationFailed]) if (e !== undefined) n.writes.add(topic(e));
    }
    if (c.initiator !== undefined) {
      const n = need(c.initiator, 'participant');
      for (const e of [c.start, c.end.completed, c.end.aborted]) n.writes.add(topic(e));
      const last = contractStages(c).at(-1);
      for (const s of last?.steps ?? []) for (const e of continuingOutcomes(s)) n.reads.add(topic(e));
      for (const s of c.steps) n.reads.add(topic(s.failed));
      if (actsOnTime(c) || timed.has(c.initiator)) {
        // The saga clock follows every event of the saga to move its timers.
        for (const e of [c.start, c.end.completed, c.end.aborted, ...c.steps.flatMap((s) => [s.completed, s.failed])])
          n.reads.add(topic(e));
        n.own.add(timerTopicOf(c.initiator));
        n.own.add(controlTopicOf(c.saga));
        controlTopics.add(controlTopicOf(c.saga));
      }
    }
    for (const e of [
      c.start,
      c.end.completed,
      c.end.aborted,
      ...c.steps.flatMap((s) => [s.completed, s.failed, s.compensated, s.compensationFailed]),
    ]) {
      if (e !== undefined) tracker.reads.add(topic(e));
    }
  }
  for (const service of timed) {
    const n = participants.get(service);
    if (!n) {
      throw new SchemaRegistryError(
        'INVALID_CONTRACT',
        `--timers ${service}: ${service} is no participant of the contracts (they have ${[...participants.keys()].join(', ')})`,
      );
    }
    n.own.add(timerTopicOf(service));
  }
  for (const [service, topics] of Object.entries(options.extraReads ?? {})) {
    const n = participants.get(service);
    if (!n) {
      throw new SchemaRegistryError(
        'INVALID_CONTRACT',
        `--reads ${service}=...: ${service} is no participant of the contracts (they have ${[...participants.keys()].join(', ')})`,
      );
    }
    for (const t of topics) n.reads.add(t);
  }
  for (const t of [...tracker.reads]) tracker.reads.add(deadLetterTopicOf(t));

  const principalOf = options.principalOf ?? ((s: string) => `User:${s}`);
  const autoCreate = options.autoCreate ?? true;
  const retry = new Set(options.retryTopic ?? []);
  const plans: ServiceAcls[] = [];
  for (const [service, n] of [...participants].sort(([a], [b]) => a.localeCompare(b))) {
    const acl = builder(principalOf(service));
    const dlqs = [...n.reads].map((t) => deadLetterTopicOf(t));
    const retryTopics = [
      ...(retry.has(service) ? [retryTopicOf(service)] : []),
      ...(options.inbox === false ? [] : [inboxTopicOf(service)]),
      // Read back by the SDK's topic reader (pending timers) and consumed and answered (control), like the inbox.
      ...sorted(n.own),
    ];
    for (const t of n.reads) acl.topic(t, 'READ', 'DESCRIBE');
    for (const t of [...n.writes, ...dlqs]) acl.topic(t, 'WRITE', 'DESCRIBE');
    for (const t of retryTopics) acl.topic(t, 'READ', 'WRITE', 'DESCRIBE');
    // The SDK creates every missing topic it touches, inputs included, so whichever service starts
    // first can set the saga's topics up.
    if (autoCreate) for (const t of [...n.reads, ...n.writes, ...dlqs, ...retryTopics]) acl.topic(t, 'CREATE');
    acl.add('GROUP', service, 'LITERAL', 'READ');
    if (retryTopics.length > 0) acl.add('GROUP', READER_GROUP_PREFIX, 'PREFIXED', 'READ');
    acl.add('TRANSACTIONAL_ID', `${transactionalIdPrefixOf(service)}-`, 'PREFIXED', 'WRITE', 'DESCRIBE');
    acl.add('CLUSTER', 'kafka-cluster', 'LITERAL', 'IDEMPOTENT_WRITE');
    plans.push({
      service,
      role: n.role,
      principal: principalOf(service),
      reads: sorted([...n.reads, ...n.own]),
      writes: sorted([...n.writes, ...dlqs, ...n.own]),
      acls: acl.entries(),
    });
  }
  {
    const acl = builder(principalOf(publisherName));
    for (const t of publisher.writes) acl.topic(t, 'WRITE', 'DESCRIBE', ...(autoCreate ? (['CREATE'] as const) : []));
    acl.add('CLUSTER', 'kafka-cluster', 'LITERAL', 'IDEMPOTENT_WRITE');
    plans.push({
      service: publisherName,
      role: 'publisher',
      principal: principalOf(publisherName),
      reads: [],
      writes: sorted(publisher.writes),
      acls: acl.entries(),
    });
  }
  if (controlTopics.size > 0) {
    const operatorName = options.operator ?? 'troupe-operator';
    const acl = builder(principalOf(operatorName));
    // troupe-saga abort: a request in, the initiator's answer read back with the SDK's topic reader.
    for (const t of controlTopics) acl.topic(t, 'READ', 'WRITE', 'DESCRIBE');
    acl.add('GROUP', READER_GROUP_PREFIX, 'PREFIXED', 'READ');
    acl.add('CLUSTER', 'kafka-cluster', 'LITERAL', 'IDEMPOTENT_WRITE');
    plans.push({
      service: operatorName,
      role: 'operator',
      principal: principalOf(operatorName),
      reads: sorted(controlTopics),
      writes: sorted(controlTopics),
      acls: acl.entries(),
    });
  }
  {
    const acl = builder(principalOf(trackerName));
    for (const t of tracker.reads) acl.topic(t, 'READ', 'DESCRIBE');
    // Prefixed: with the memory store every tracker instance joins its own `troupe-tracker-<random>` group.
    acl.add('GROUP', TRACKER_GROUP, 'PREFIXED', 'READ');
    plans.push({
      service: trackerName,
      role: 'tracker',
      principal: principalOf(trackerName),
      reads: sorted(tracker.reads),
      writes: [],
      acls: acl.entries(),
    });
  }
  return plans;
}

function sorted(set: Iterable<string>): string[] {
  return [...new Set(set)].sort();
}

function builder(principal: string) {
  const entries: AclEntry[] = [];
  const seen = new Set<string>();
  const add = (resourceType: AclResourceType, resourceName: string, patternType: AclPatternType, ...operations: AclOperation[]): void => {
    for (const operation of operations) {
      const key = `${resourceType}|${resourceName}|${patternType}|${operation}`;
      if (seen.has(key)) continue;
      seen.add(key);
      entries.push({ principal, resourceType, resourceName, patternType, operation, host: '*', permission: 'ALLOW' });
    }
  };
  return {
    add,
    topic: (name: string, ...operations: AclOperation[]) => add('TOPIC', name, 'LITERAL', ...operations),
    entries: (): AclEntry[] =>
      [...entries].sort(
        (a, b) =>
          RESOURCE_ORDER.indexOf(a.resourceType) - RESOURCE_ORDER.indexOf(b.resourceType) ||
          a.resourceName.localeCompare(b.resourceName) ||
          OPERATION_ORDER.indexOf(a.operation) - OPERATION_ORDER.indexOf(b.operation),
      ),
  };
}

const RESOURCE_ORDER: readonly AclResourceType[] = ['TOPIC', 'GROUP', 'TRANSACTIONAL_ID', 'CLUSTER'];
const OPERATION_ORDER: readonly AclOperation[] = ['READ', 'WRITE', 'CREATE', 'DESCRIBE', 'IDEMPOTENT_WRITE'];

const OPERATION_FLAG: Record<AclOperation, string> = {
  READ: 'Read',
  WRITE: 'Write',
  CREATE: 'Create',
  DESCRIBE: 'Describe',
  IDEMPOTENT_WRITE: 'IdempotentWrite',
};

/**
 * `kafka-acls.sh --add` commands, one per principal and resource (operations grouped).
 * `$BOOTSTRAP` and `admin.properties` (the admin's SASL/TLS settings) are left for the operator.
 */
export function renderAclCommands(plans: readonly ServiceAcls[]): string[] {
  const lines: string[] = [];
  for (const plan of plans) {
    lines.push(`# ${plan.service} (${plan.role}): reads ${plan.reads.join(', ') || '-'}; writes ${plan.writes.join(', ') || '-'}`);
    const groups = new Map<string, AclEntry[]>();
    for (const e of plan.acls) {
      const key = `${e.resourceType}|${e.resourceName}|${e.patternType}`;
      groups.set(key, [...(groups.get(key) ?? []), e]);
    }
    for (const entries of groups.values()) {
      const first = entries[0] as AclEntry;
      const resource =
        first.resourceType === 'CLUSTER'
          ? '--cluster'
          : `${first.resourceType === 'TOPIC' ? '--topic' : first.resourceType === 'GROUP' ? '--group' : '--transactional-id'} ${first.resourceName}`;
      const pattern = first.patternType === 'PREFIXED' ? ' --resource-pattern-type prefixed' : '';
      const ops = entries.map((e) => `--operation ${OPERATION_FLAG[e.operation]}`).join(' ');
      lines.push(
        `kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config admin.properties --add --allow-principal ${plan.principal} ${ops} ${resource}${pattern}`,
      );
    }
  }
  return lines;
}
