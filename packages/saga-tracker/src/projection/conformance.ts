import { contractStages, type SagaContract, type SagaStepContract } from '@troupe/core';
import type { TrackedEvent } from '../tracked-event.js';
import type { Folded } from './fold.js';
import { ms } from './types.js';
import type { Deviation, DeviationKind } from './types.js';

type Outcome = 'start' | 'end-completed' | 'end-aborted' | 'completed' | 'failed' | 'compensated' | 'compensation-failed';

interface Expected {
  readonly outcome: Outcome;
  readonly step?: SagaStepContract;
  /** Position of the step's stage in the contract (branches of a parallel group share one). */
  readonly index: number;
}

const short = (type: string): string => type.slice(type.lastIndexOf('.') + 1);

/** What each event type of a contract means: which step, which outcome. */
function expectations(c: SagaContract): Map<string, Expected> {
  const m = new Map<string, Expected>();
  m.set(c.start, { outcome: 'start', index: -1 });
  const stages = contractStages(c);
  m.set(c.end.completed, { outcome: 'end-completed', index: stages.length });
  m.set(c.end.aborted, { outcome: 'end-aborted', index: stages.length });
  stages.forEach((stage, index) => {
    for (const step of stage.steps) {
      m.set(step.completed, { outcome: 'completed', step, index });
      m.set(step.failed, { outcome: 'failed', step, index });
      if (step.compensated !== undefined) m.set(step.compensated, { outcome: 'compensated', step, index });
      if (step.compensationFailed !== undefined) m.set(step.compensationFailed, { outcome: 'compensation-failed', step, index });
    }
  });
  return m;
}

/**
 * Deviations of the saga from its contract, walking its events in projection order. Without a
 * contract there is nothing to compare with, so nothing deviates. A deviation that comes from
 * events not yet read (another topic lagging) disappears once they are: the check reads the set.
 */
export function conformanceOf(f: Folded): Deviation[] {
  const c = f.contract;
  if (c === undefined) return [];
  const expected = expectations(c);
  const out: Deviation[] = [];
  const flag = (kind: DeviationKind, e: TrackedEvent, message: string, step?: string): void => {
    out.push({ kind, eventId: e.id, type: e.type, time: e.time, source: e.source, ...(step !== undefined ? { step } : {}), message });
  };
  // First outcome that lets the saga go on past each step (its completion; either outcome of an
  // optional step) in the whole set: "was it done before e" also accepts e's cause.
  const firstCompletion = new Map<string, TrackedEvent>();
  for (const e of f.originals) {
    const x = expected.get(e.type);
    const goesOn = x?.outcome === 'completed' || (x?.outcome === 'failed' && x.step?.optional === true);
    if (goesOn && x?.step !== undefined && !firstCompletion.has(x.step.name)) firstCompletion.set(x.step.name, e);
  }
  const stageOf = (name: string): number => expected.get(c.steps.find((s) => s.name === name)?.completed ?? '')?.index ?? -1;
  // State as of the event being walked.
  const completions = new Map<string, TrackedEvent>();
  const forward = new Map<string, TrackedEvent>();
  const undone = new Map<string, TrackedEvent>();
  let start: TrackedEvent | undefined;
  let end: TrackedEvent | undefined;
  let failedStep: string | undefined;

  for (const e of f.originals) {
    const x = expected.get(e.type);
    if (x === undefined) {
      flag('unexpected-event', e, `${short(e.type)} is not an event of the ${c.saga} contract`, e.step);
      continue;
    }
    const stepName = x.step?.name;
    const owner = x.step?.participant ?? c.initiator;
    // With onTimeout: fail-step the initiator emits the silent step's failure on its behalf (docs/time.md).
    const onBehalf = x.outcome === 'failed' && e.abort !== undefined && e.source === c.initiator;
    if (owner !== undefined && e.source !== owner && !onBehalf) {
      const what = stepName !== undefined ? `step ${stepName}` : 'the start and end events';
      flag('wrong-participant', e, `${short(e.type)} was emitted by ${e.source}; the contract gives ${what} to ${owner}`, stepName);
    }
    if (stepName !== undefined && e.step !== undefined && e.step !== '' && e.step !== stepName) {
      flag(
        'unexpected-event',
        e,
        `${short(e.type)} names step ${e.step}, but the contract makes it an event of step ${stepName}`,
        stepName,
      );
    }
    if (end !== undefined && end.type === c.end.completed && x.outcome !== 'start') {
      if (x.outcome === 'end-completed' || x.outcome === 'end-aborted')
        flag('duplicate-outcome', e, `a second end event (${short(e.type)}) after ${short(end.type)}`);
      else flag('unexpected-event', e, `${short(e.type)} after the saga completed (${short(end.type)})`, stepName);
      continue;
    }
    switch (x.outcome) {
      case 'start':
        if (start !== undefined) flag('duplicate-outcome', e, `a second start event (${e.id}) after ${start.id}`);
        start ??= e;
        break;
      case 'end-completed':
      case 'end-aborted': {
        // The documented follow-up of a late completion (the abort again, for that step only): not a second end.
        if (end !== undefined && e.abort?.cause === 'late' && x.outcome === 'end-aborted') break;
        if (end !== undefined) {
          flag('duplicate-outcome', e, `a second end event (${short(e.type)}) after ${short(end.type)}`);
          break;
        }
        end = e;
        if (x.outcome === 'end-aborted') {
          failedStep ??= '(aborted)';
          break;
        }
        // An optional step may end failed; it is missing only when it has no outcome at all.
        const missing = c.steps.filter((s) => !doneBefore(firstCompletion.get(s.name), e)).map((s) => s.name);
        if (missing.length > 0)
          flag(
            'missing-steps',
            e,
            `${short(e.type)} ended the saga without step${missing.length > 1 ? 's' : ''} ${missing.join(', ')} completing`,
          );
        break;
      }
      case 'completed':
      case 'failed': {
        const name = stepName ?? '';
        const first = forward.get(name);
        if (first !== undefined) {
          flag('duplicate-outcome', e, `a second outcome of step ${name}: ${short(e.type)} after ${short(first.type)}`, name);
          break;
        }
        forward.set(name, e);
        if (end !== undefined) flag('unexpected-event', e, `${short(e.type)} after the saga was aborted (${short(end.type)})`, name);
        // A sibling branch may finish after its sibling failed: both were running at once.
        else if (failedStep !== undefined && stageOf(failedStep) !== x.index)
          flag('unexpected-event', e, `${short(e.type)} after step ${failedStep} failed: the saga is compensating`, name);
        else {
          // Steps of earlier stages only: branches of one parallel group run in any order.
          const late = c.steps
            .filter((s) => stageOf(s.name) < x.index)
            .filter((s) => !doneBefore(firstCompletion.get(s.name), e))
            .map((s) => s.name);
          if (late.length > 0)
            flag('out-of-order', e, `${short(e.type)} before step${late.length > 1 ? 's' : ''} ${late.join(', ')} completed`, name);
        }
        if (x.outcome === 'completed') completions.set(name, e);
        // An optional step's failure does not fail the saga: nothing compensates after it.
        else if (x.step?.optional !== true) failedStep ??= name;
        break;
      }
      case 'compensated':
      case 'compensation-failed': {
        const name = stepName ?? '';
        const first = undone.get(name);
        if (first !== undefined) {
          flag('duplicate-outcome', e, `a second compensation outcome of step ${name}: ${short(e.type)} after ${short(first.type)}`, name);
          break;
        }
        undone.set(name, e);
        if (!completions.has(name)) flag('unexpected-event', e, `${short(e.type)} compensates step ${name}, which never completed`, name);
        else if (failedStep === undefined)
          flag('unexpected-event', e, `${short(e.type)} while no step had failed and the saga was not aborted`, name);
        break;
      }
    }
  }
  return out;
}

/**
 * Whether a step's completion counts as before `e`: earlier in time, or `e`'s direct cause (a
 * participant's clock may run behind its predecessor's, so causation beats timestamps).
 */
function doneBefore(completion: TrackedEvent | undefined, e: TrackedEvent): boolean {
  if (completion === undefined) return false;
  return completion.id === e.causationId || ms(completion.time) <= ms(e.time);
}
