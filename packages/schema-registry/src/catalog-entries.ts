import type { SagaContract } from '@troupe/core';

export interface CatalogContract {
  /** Path of the `.saga.yaml` file, relative to the catalog directory. */
  readonly file: string;
  readonly contract: SagaContract;
}

/** One problem in one file: where (`file`, `line` when known, `path` inside the document) and what to fix. */
export interface CatalogProblem {
  readonly code: 'INVALID_SCHEMA' | 'INVALID_CONTRACT';
  readonly file: string;
  readonly line?: number;
  readonly path: string;
  readonly message: string;
}

export function formatProblem(p: CatalogProblem): string {
  return `${p.file}${p.line === undefined ? '' : `:${p.line}`}: ${p.path === '' ? '' : `${p.path}: `}${p.message}`;
}
