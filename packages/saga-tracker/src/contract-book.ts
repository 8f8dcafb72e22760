import { contractFor, contractVersion, latestContract } from '@troupe/core';
import type { SagaContract } from '@troupe/core';

/**
 * The contracts the tracker knows, every version of each saga type. A saga is projected with the
 * version it started with (`ce_sagaversion`, absent = 1); overviews of a type use its newest.
 */
export class ContractBook {
  private readonly list: readonly SagaContract[];
  private readonly latestByType: ReadonlyMap<string, SagaContract>;

  constructor(contracts: readonly SagaContract[] = []) {
    this.list = contracts;
    const types = [...new Set(contracts.map((c) => c.saga))];
    this.latestByType = new Map(types.map((t) => [t, latestContract(contracts, t) as SagaContract]));
  }

  /** The contract a saga of this type and version follows (the lookup `project()` takes). */
  readonly of = (sagaType: string, version?: number): SagaContract | undefined => contractFor(this.list, sagaType, version);

  latest(sagaType: string): SagaContract | undefined {
    return this.latestByType.get(sagaType);
  }

  /** Saga types with a contract. */
  types(): string[] {
    return [...this.latestByType.keys()];
  }

  /** Versions known for a saga type, ascending. */
  versions(sagaType: string): number[] {
    return this.list
      .filter((c) => c.saga === sagaType)
      .map(contractVersion)
      .sort((a, b) => a - b);
  }
}
