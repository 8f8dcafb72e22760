import type { SagaContract, SagaRole } from '@troupe/core';

type ContractRole = { readonly role: SagaRole; readonly step?: string; readonly saga: string };

// Asked on every emit and publish with the same few answers: cached per contracts list.
const cache = new WeakMap<readonly SagaContract[], Map<string, ContractRole | undefined>>();

/** The saga role and step of an event type according to the contracts, if any declares it. */
export function roleInContracts(
  contracts: readonly SagaContract[],
  sagaType: string | undefined,
  typeName: string,
): ContractRole | undefined {
  let known = cache.get(contracts);
  if (known === undefined) cache.set(contracts, (known = new Map<string, ContractRole | undefined>()));
  const key = `${sagaType ?? ''}\u0000${typeName}`;
  if (known.has(key)) return known.get(key);
  const found = lookUp(contracts, sagaType, typeName);
  known.set(key, found === undefined ? undefined : Object.freeze(found));
  return found;
}

function lookUp(contracts: readonly SagaContract[], sagaType: string | undefined, typeName: string): ContractRole | undefined {
  const ordered = [...contracts].sort((a, b) => Number(b.saga === sagaType) - Number(a.saga === sagaType));
  for (const c of ordered) {
    if (c.start === typeName) return { role: 'start', saga: c.saga };
    if (c.end.completed === typeName || c.end.aborted === typeName) return { role: 'end', saga: c.saga };
    for (const s of c.steps) {
      if (s.completed === typeName) return { role: 'step-completed', step: s.name, saga: c.saga };
      if (s.failed === typeName) return { role: 'step-failed', step: s.name, saga: c.saga };
      if (s.compensated === typeName) return { role: 'compensated', step: s.name, saga: c.saga };
      if (s.compensationFailed === typeName) return { role: 'compensation-failed', step: s.name, saga: c.saga };
    }
  }
  return undefined;
}
