import { contractStages, contractVersion, type SagaContract } from '@troupe/core';
import { canonicalJson } from './canonical-json.js';
import type { CatalogContract, CatalogProblem } from './catalog-entries.js';

// Versions of one saga type run side by side while sagas are in flight: a participant or tracker
// serving both reads an event's role from its type, and a step's owner from the contract. So the
// rules below keep what both versions say about a shared event type or step identical.

/** What a contract says an event type is: `start`, `end.completed`, `steps.payment.failed`, … */
function roles(c: SagaContract): Map<string, string> {
  const m = new Map<string, string>([
    [c.start, 'start'],
    [c.end.completed, 'end.completed'],
    [c.end.aborted, 'end.aborted'],
  ]);
  for (const s of c.steps) {
    for (const key of ['completed', 'failed', 'compensated', 'compensationFailed'] as const) {
      const t = s[key];
      if (t !== undefined) m.set(t, `steps.${s.name}.${key}`);
    }
  }
  return m;
}

/** The stages of `c` restricted to the steps `other` has too: `a, b ∥ c, d` (branches sorted). */
function sharedLayout(c: SagaContract, other: SagaContract): string {
  const has = new Set(other.steps.map((s) => s.name));
  return contractStages(c)
    .map((st) =>
      st.steps
        .map((s) => s.name)
        .filter((n) => has.has(n))
        .sort()
        .join(' ∥ '),
    )
    .filter((x) => x !== '')
    .join(', ');
}

/**
 * Problems of one contract against the previous version of its saga type in the same catalog:
 * an event type with another role, or a step with another owner.
 */
export function versionProblems(entry: CatalogContract, all: readonly CatalogContract[]): CatalogProblem[] {
  const c = entry.contract;
  const v = contractVersion(c);
  const previous = all
    .filter((o) => o.contract.saga === c.saga && contractVersion(o.contract) < v)
    .sort((a, b) => contractVersion(b.contract) - contractVersion(a.contract))[0];
  if (previous === undefined) return [];
  const pv = contractVersion(previous.contract);
  const problems: CatalogProblem[] = [];
  const bad = (path: string, message: string): void => {
    problems.push({ code: 'INVALID_CONTRACT', file: entry.file, path, message });
  };
  const before = roles(previous.contract);
  for (const [type, role] of roles(c)) {
    const old = before.get(type);
    if (old !== undefined && old !== role) {
      bad(
        role,
        `${type} is ${old} in version ${pv} (${previous.file}); an event type keeps its role across versions that run side by side — use a new event type`,
      );
    }
  }
  for (const s of c.steps) {
    const old = previous.contract.steps.find((o) => o.name === s.name);
    if (old !== undefined && old.participant !== s.participant) {
      bad(
        `steps.${s.name}.participant`,
        `step ${s.name} belongs to ${old.participant} in version ${pv}; sagas in flight at version ${pv} still expect it there — rename the step to move it`,
      );
    }
  }
  for (const s of c.steps) {
    const old = previous.contract.steps.find((o) => o.name === s.name);
    // Whether a step's failure fails the saga decides who compensates on it, in every version.
    if (old !== undefined && (old.optional === true) !== (s.optional === true)) {
      bad(
        `steps.${s.name}.optional`,
        `step ${s.name} is ${old.optional === true ? '' : 'not '}optional in version ${pv}; a step keeps whether its failure fails the saga across versions that run side by side — rename the step to change it`,
      );
    }
  }
  // Participants derive compensation triggers from "the steps after mine and beside mine" in every
  // version, so shared steps keep their order and which of them run in parallel.
  const nowOrder = sharedLayout(c, previous.contract);
  const oldOrder = sharedLayout(previous.contract, c);
  if (nowOrder !== oldOrder) {
    bad(
      'steps',
      `steps ${nowOrder} run in another order in version ${pv} (${oldOrder}); steps both versions share keep their order and their parallel groups`,
    );
  }
  return problems;
}

/** One finding of {@link contractChanges}: `incompatible` fails `troupe-schemas check`, `note` informs. */
export interface ContractChange {
  readonly level: 'incompatible' | 'note' | 'ok';
  readonly saga: string;
  readonly version: number;
  readonly message: string;
}

/**
 * Compares contracts with those of a baseline (the schemas directory of what is deployed): a
 * version's content may not change (sagas in flight at that version would switch rules), the
 * newest version may not go down, and a version removed is noted (its sagas in flight lose their
 * contract).
 */
export function contractChanges(baseline: readonly CatalogContract[], current: readonly CatalogContract[]): ContractChange[] {
  const out: ContractChange[] = [];
  const key = (c: SagaContract): string => `${c.saga}@${contractVersion(c)}`;
  const base = new Map(baseline.map((b) => [key(b.contract), b.contract]));
  const now = new Map(current.map((b) => [key(b.contract), b.contract]));
  for (const { contract: c, file } of current) {
    const v = contractVersion(c);
    const old = base.get(key(c));
    if (old === undefined) out.push({ level: 'ok', saga: c.saga, version: v, message: `new version ${v} (${file})` });
    else if (canonicalJson(old) !== canonicalJson(c)) {
      out.push({
        level: 'incompatible',
        saga: c.saga,
        version: v,
        message: `version ${v} changed (${file}); sagas in flight at version ${v} would switch rules — save the change as version ${v + 1} and keep version ${v} until its sagas finish`,
      });
    } else out.push({ level: 'ok', saga: c.saga, version: v, message: `version ${v} unchanged` });
  }
  for (const [k, c] of base) {
    if (!now.has(k)) {
      out.push({
        level: 'note',
        saga: c.saga,
        version: contractVersion(c),
        message: `version ${contractVersion(c)} removed: sagas still in flight at it lose their contract; remove it only after they finished`,
      });
    }
  }
  const latest = (list: readonly CatalogContract[], saga: string): number =>
    Math.max(0, ...list.filter((x) => x.contract.saga === saga).map((x) => contractVersion(x.contract)));
  for (const saga of new Set(current.map((c) => c.contract.saga))) {
    const was = latest(baseline, saga);
    const is = latest(current, saga);
    if (is < was) {
      out.push({
        level: 'incompatible',
        saga,
        version: is,
        message: `newest version went down from ${was} to ${is}: new sagas would start at an older contract than sagas already running`,
      });
    }
  }
  return out.sort((a, b) => (a.saga !== b.saga ? (a.saga < b.saga ? -1 : 1) : a.version - b.version));
}
