import type { Folded } from './fold.js';
import { stepOfEvent } from './fold.js';
import { ms } from './types.js';
import type { CausalEdge, CausalNode, FlowStep } from './types.js';

/** Who caused what (from `causationId`), and the type-to-type transitions the flow view sums up. */
export interface CausalStage {
  readonly causal: { readonly nodes: readonly CausalNode[]; readonly edges: readonly CausalEdge[] };
  readonly flow: readonly FlowStep[];
}

export function causalGraphOf(f: Folded): CausalStage {
  const deadLettered = new Set(f.deadLetters.map((d) => d.eventId));
  const nodes: CausalNode[] = f.originals.map((e) => {
    const step = stepOfEvent(e, f.contract);
    return {
      id: e.id,
      type: e.type,
      source: e.source,
      time: e.time,
      role: e.role,
      ...(step !== undefined ? { step } : {}),
      deadLettered: deadLettered.has(e.id),
    };
  });
  const edges: CausalEdge[] = [];
  const flow: FlowStep[] = [];
  for (const e of f.originals) {
    if (e.causationId === undefined) continue;
    const cause = f.byId.get(e.causationId);
    edges.push({ from: e.causationId, to: e.id, missing: cause === undefined });
    if (cause !== undefined) flow.push({ from: cause.type, to: e.type, latencyMs: Math.max(0, ms(e.time) - ms(cause.time)) });
  }
  for (const d of f.deadLetters) {
    const orig = f.byId.get(d.eventId);
    flow.push({ from: d.type, to: `dead-letter:${d.topic}`, latencyMs: orig === undefined ? 0 : Math.max(0, ms(d.time) - ms(orig.time)) });
  }
  return { causal: { nodes, edges }, flow };
}
