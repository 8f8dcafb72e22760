import { compensationTriggersOf, contractVersion, stageIndexOf, stepAwaits, type EventEnvelope, type SagaContract } from '@troupe/core';
import type { EventType } from '@troupe/schema-registry';
import { SdkError } from '../errors.js';
import type { EventHandlerDefinition, HandlerDefinition, StepDefinition } from './handlers.js';

// Handlers are stored type-erased; each was type-checked where the user built it.
export type AnyStep = StepDefinition<unknown, unknown, unknown, unknown, unknown, unknown>;
export type AnyOn = EventHandlerDefinition<unknown>;

export type Route =
  | { readonly kind: 'on'; readonly label: string; readonly reader: EventType; readonly def: AnyOn }
  | {
      readonly kind: 'step';
      readonly label: string;
      readonly reader: EventType;
      readonly def: AnyStep;
      /**
       * A join (the step waits for every branch of the previous parallel group): per branch, the
       * event types that count as its outcome; `branch` is the one this route's event belongs to.
       */
      readonly join?: { readonly branches: readonly (readonly string[])[]; readonly branch: number };
    }
  | {
      readonly kind: 'compensate';
      readonly label: string;
      readonly reader: EventType;
      readonly def: AnyStep;
      /** On the contract's `end.aborted` event: runs only for timeouts and operator aborts (timers/abort.ts). */
      readonly onAbort?: true;
    };

export interface RouteTable {
  /** Routes per event type name, forward handlers first, then compensations in reverse step order. */
  readonly byType: ReadonlyMap<string, readonly Route[]>;
  /** Topics to consume. */
  readonly inputTopics: readonly string[];
  /** Topics the participant's declared outcome events go to. */
  readonly outputTopics: readonly string[];
  /** Per `<saga>@<version>`: steps other versions of the saga have and this one does not. */
  readonly absentSteps: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * The routes an event takes: a saga follows the contract version it started with (`ce_sagaversion`,
 * absent = 1), so steps (and their compensations) its version does not have are left out.
 */
export function routesFor(table: RouteTable, env: EventEnvelope): readonly Route[] {
  const all = table.byType.get(env.type) ?? [];
  const absent = table.absentSteps.get(`${env.sagaType}@${env.sagaVersion ?? 1}`);
  return absent === undefined ? all : all.filter((r) => r.kind === 'on' || !absent.has(r.def.name));
}

/** For each contract version, the steps of the saga's other versions that it lacks (only non-empty sets). */
function absentStepsOf(contracts: readonly SagaContract[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const c of contracts) {
    const own = new Set(c.steps.map((s) => s.name));
    const absent = new Set(
      contracts
        .filter((o) => o.saga === c.saga)
        .flatMap((o) => o.steps.map((s) => s.name))
        .filter((n) => !own.has(n)),
    );
    if (absent.size > 0) out.set(`${c.saga}@${contractVersion(c)}`, absent);
  }
  return out;
}

/**
 * Builds the dispatch table and checks the handlers against the contracts: every step must exist
 * in a contract with this participant as owner and the same event types, and every step the
 * participant owns must have a handler.
 */
export function buildRoutes(
  participant: string,
  handlers: readonly HandlerDefinition[],
  contracts: readonly SagaContract[],
  events: readonly EventType[],
): RouteTable {
  const problems: string[] = [];
  const byType = new Map<string, Route[]>();
  const add = (type: EventType, route: Route): void => {
    const list = byType.get(type.name) ?? [];
    if (route.kind !== 'compensate' && list.some((r) => r.kind !== 'compensate')) {
      problems.push(`two handlers react to ${type.name}; merge them into one`);
    }
    list.push(route);
    byType.set(type.name, list);
  };
  const known = new Map<string, EventType>(events.map((e) => [e.name, e]));
  const defs = handlers as unknown as readonly (AnyOn | AnyStep)[];
  const steps = defs.filter((h): h is AnyStep => h.kind === 'step');
  for (const s of steps) for (const t of [s.on, s.completed, s.failed, s.compensated, s.compensationFailed]) if (t) known.set(t.name, t);

  for (const h of defs) {
    if (h.kind === 'on') {
      add(h.type, { kind: 'on', label: `on:${h.type.name}`, reader: h.type, def: h });
      continue;
    }
    // One route per event the step awaits: alternatives (an optional step's outcomes) or the
    // branches of a join (ADR 0017).
    const awaits = h.awaits ?? [[h.on]];
    const branches = awaits.map((list) => list.map((t) => t.name));
    awaits.forEach((list, branch) => {
      for (const t of list) {
        known.set(t.name, t);
        add(t, {
          kind: 'step',
          label: `step:${h.name}`,
          reader: t,
          def: h,
          ...(awaits.length > 1 ? { join: { branches, branch } } : {}),
        });
      }
    });
  }

  const outputTopics = new Set<string>();
  for (const s of steps) {
    for (const t of [s.completed, s.failed, s.compensated, s.compensationFailed]) if (t) outputTopics.add(t.topic);
    const owner = contracts.flatMap((c) => c.steps.map((cs) => ({ c, cs }))).find(({ cs }) => cs.name === s.name);
    if (contracts.length > 0) {
      if (!owner) {
        problems.push(`step ${s.name} is in no saga contract (${contracts.map((c) => c.saga).join(', ')}); check its name`);
      } else {
        const { c, cs } = owner;
        if (cs.participant !== participant) problems.push(`step ${s.name} of ${c.saga} belongs to ${cs.participant}, not ${participant}`);
        if (cs.completed !== s.completed.name)
          problems.push(`step ${s.name}: contract says completed is ${cs.completed}, handler says ${s.completed.name}`);
        if (cs.failed !== s.failed.name)
          problems.push(`step ${s.name}: contract says failed is ${cs.failed}, handler says ${s.failed.name}`);
        if (s.compensated && cs.compensated !== s.compensated.name) {
          problems.push(`step ${s.name}: contract says compensated is ${cs.compensated ?? '(none)'}, handler says ${s.compensated.name}`);
        }
        problems.push(...compensationFailedProblems(s, cs.compensationFailed));
        const expected = stepAwaits(c, cs.name);
        const given = (s.awaits ?? [[s.on]]).map((list) => list.map((t) => t.name));
        // Only where the contract awaits more than one event: a single `on` has always been the handler's choice.
        if (expected.flat().length > 1 && JSON.stringify(expected) !== JSON.stringify(given)) {
          problems.push(
            `step ${s.name}: contract says it awaits ${awaitsText(expected)}, handler awaits ${awaitsText(given)}; build the step from the generated descriptor (step(${camelSaga(c.saga)}.${s.name}, …)) or give awaits`,
          );
        }
      }
    }
    if (!s.compensate) continue;
    let triggers = s.compensateOn;
    if (!triggers) {
      if (!owner) {
        problems.push(`step ${s.name} has compensate but no compensateOn and no contract to derive it from`);
        continue;
      }
      // Failures of its sibling branches and of the steps after it (optional ones excepted), in
      // every version of the saga that has it: versions run side by side, and their shared steps
      // keep their order and grouping (troupe-schemas validate).
      const later = new Set<string>();
      for (const c of contracts) if (c.saga === owner.c.saga) for (const t of compensationTriggersOf(c, s.name)) later.add(t);
      const resolved: EventType[] = [];
      for (const name of later) {
        const t = known.get(name);
        if (t) resolved.push(t);
        else problems.push(`step ${s.name} compensates on ${name} but its topic is unknown; pass it in the participant's events option`);
      }
      triggers = resolved;
    }
    for (const t of triggers) add(t, { kind: 'compensate', label: `compensate:${s.name}`, reader: t, def: s });
    // A saga aborted by its initiator for a timeout or an operator compensates too (docs/time.md).
    const aborted = owner ? known.get(owner.c.end.aborted) : undefined;
    if (aborted && !triggers.some((t) => t.name === aborted.name)) {
      add(aborted, { kind: 'compensate', label: `compensate:${s.name}`, reader: aborted, def: s, onAbort: true });
    }
  }

  for (const c of contracts) {
    for (const cs of c.steps) {
      if (cs.participant === participant && !steps.some((s) => s.name === cs.name)) {
        problems.push(`${participant} owns step ${cs.name} of ${c.saga} but registers no step(...) for it`);
      }
    }
  }
  if (problems.length > 0) {
    throw new SdkError('CONTRACT_MISMATCH', `participant ${participant}: ${problems.join('; ')}`);
  }

  // Later steps are undone first, as a routing slip unwinds (branches of one group in any order).
  const order = (r: Route): number => {
    if (r.kind !== 'compensate') return -1;
    for (const c of contracts) {
      const i = stageIndexOf(c, r.def.name);
      if (i >= 0) return 1000 - i;
    }
    return 0;
  };
  for (const list of byType.values()) list.sort((a, b) => order(a) - order(b));
  const inputTopics = [...new Set([...byType.values()].flat().map((r) => r.reader.topic))].sort();
  return { byType, inputTopics, outputTopics: [...outputTopics].sort(), absentSteps: absentStepsOf(contracts) };
}

/** `A or B, and C` — one event of each list. */
function awaitsText(awaits: readonly (readonly string[])[]): string {
  return awaits.map((list) => list.join(' or ')).join(', and ');
}

const camelSaga = (saga: string): string => saga.replace(/-([a-z0-9])/g, (_m, ch: string) => ch.toUpperCase());

/** The step's `compensationFailed` against the contract's, and the builder the SDK needs to emit it. */
function compensationFailedProblems(s: AnyStep, declared: string | undefined): string[] {
  const problems: string[] = [];
  if (s.compensationFailed && declared !== s.compensationFailed.name) {
    problems.push(`step ${s.name}: contract says compensationFailed is ${declared ?? '(none)'}, handler says ${s.compensationFailed.name}`);
  }
  if (s.compensate && s.compensationFailed && !s.onCompensationGiveUp) {
    problems.push(
      `step ${s.name} declares compensationFailed ${s.compensationFailed.name} but no onCompensationGiveUp to build it when the compensation gives up; add onCompensationGiveUp`,
    );
  }
  return problems;
}
