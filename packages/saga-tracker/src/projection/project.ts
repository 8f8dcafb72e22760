import type { TrackedEvent } from '../tracked-event.js';
import { awaitingOf } from './awaiting.js';
import { causalGraphOf } from './causal.js';
import { conformanceOf } from './conformance.js';
import { fold } from './fold.js';
import { statusOf, stepStates } from './status.js';
import type { Folded } from './fold.js';
import type { ContractSource, SagaAbort, SagaProjection } from './types.js';

/**
 * The state of one saga, derived from the SET of its events: the input is deduplicated by
 * {@link eventKey} and sorted deterministically before folding, so a duplicate or a different
 * arrival order across topics yields an identical projection. Pure: no clock, no I/O.
 *
 * `contracts` (one contract, or a lookup by saga type) adds expected steps, compensability and
 * time limits; without it the projection holds only what the headers say.
 *
 * Stages, each a pure function of the ones before it: fold (event set → steps, failures, dead
 * letters) → status (saga status, compensations) → awaiting (what comes next, when it is late)
 * and causal graph (who caused what, flow transitions), and conformance (deviations from the contract).
 */
export function project(input: Iterable<TrackedEvent>, contracts?: ContractSource): SagaProjection {
  const f = fold(input, contracts);
  const st = statusOf(f);
  const wait = awaitingOf(f, st);
  const graph = causalGraphOf(f);
  const abort = abortOf(f);
  return {
    sagaId: f.first.sagaId,
    sagaType: f.sagaType,
    ...(f.sagaVersion !== undefined ? { sagaVersion: f.sagaVersion } : {}),
    status: st.status,
    hasContract: f.contract !== undefined,
    startedAt: f.startedAt,
    ...(st.endedAt !== undefined ? { endedAt: st.endedAt } : {}),
    lastEventAt: f.last.time,
    eventCount: f.events.length,
    ...(f.startEvent !== undefined ? { startEvent: f.startEvent.type } : {}),
    ...(f.endEvent !== undefined ? { endEvent: f.endEvent.type } : {}),
    steps: stepStates(f),
    compensations: st.compensations,
    failures: f.failures,
    deadLetters: f.deadLetters,
    ...(abort !== undefined ? { abort } : {}),
    causal: graph.causal,
    flow: graph.flow,
    awaiting: wait.awaiting,
    attributes: attributesOf(f),
    deviations: conformanceOf(f),
    ...(wait.stuckAfter !== undefined ? { stuckAfter: wait.stuckAfter } : {}),
  };
}

/** The saga's business attributes: for each name, the value of the first event (in order) carrying it. */
function attributesOf(f: Folded): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of f.originals) for (const [k, v] of Object.entries(e.attributes ?? {})) if (!(k in out)) out[k] = v;
  return out;
}

/** Who ended the saga early and why, from the first event with abort headers (see {@link SagaAbort}). */
function abortOf(f: Folded): SagaAbort | undefined {
  const first = f.originals.find((e) => e.abort !== undefined && e.abort.cause !== 'late');
  const a = first?.abort;
  if (first === undefined || a === undefined || a.cause === 'late') return undefined;
  const late = [...new Set(f.originals.flatMap((e) => (e.abort?.cause === 'late' && e.abort.step !== undefined ? [e.abort.step] : [])))];
  return {
    kind: a.cause === 'operator' ? 'operator' : 'timeout',
    cause: a.cause,
    ...(a.step !== undefined ? { step: a.step } : {}),
    ...(a.reason !== undefined ? { reason: a.reason } : {}),
    ...(a.by !== undefined ? { by: a.by } : {}),
    eventId: first.id,
    type: first.type,
    time: first.time,
    ...(late.length > 0 ? { lateSteps: late } : {}),
  };
}
