import { compensationTriggersOf, contractVersion, stepAwaits, type SagaContract } from '@troupe/core';
import type { Catalog, CatalogEvent } from './catalog.js';
import { SchemaRegistryError } from './errors.js';

export interface CodegenOptions {
  /**
   * Module the generated file imports `defineEventType` from.
   * @default '@troupe/schema-registry'
   */
  readonly importFrom?: string;
  /**
   * Module the generated file imports the `SagaContract` type from.
   * @default '@troupe/core'
   */
  readonly coreImportFrom?: string;
  /**
   * Shown in the header so readers know where the types come from; keep it relative so output
   * does not depend on the machine.
   * @default 'schemas/'
   */
  readonly sourceLabel?: string;
}

const PRIMITIVE_TS: Readonly<Record<string, string>> = {
  null: 'null',
  boolean: 'boolean',
  // avsc reads and writes Avro long as a JS number: exact up to 2^53, which cents and epoch millis fit.
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};

/** avsc keeps a union unwrapped unless two branches fall in the same bucket (then it wraps all). */
const BUCKET: Readonly<Record<string, string>> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  string: 'string',
  enum: 'string',
  bytes: 'buffer',
  fixed: 'buffer',
  array: 'array',
  map: 'object',
  record: 'object',
  error: 'object',
};

interface Named {
  readonly fullName: string;
  readonly canonical: string;
  readonly file: string;
  readonly schema: Record<string, unknown>;
  readonly namespace: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function fullNameOf(name: string, ns: string): string {
  return name.includes('.') || ns === '' ? name : `${ns}.${name}`;
}
function shortName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1);
}
function nsOf(fullName: string): string {
  const i = fullName.lastIndexOf('.');
  return i < 0 ? '' : fullName.slice(0, i);
}
function pascal(s: string): string {
  return s.replace(/(^|[^A-Za-z0-9])([A-Za-z0-9])/g, (_m, _p, c: string) => c.toUpperCase());
}

function docComment(doc: unknown, indent: string): string {
  if (typeof doc !== 'string' || doc === '') return '';
  return `${indent}/** ${doc.replace(/\*\//g, '*\\/').replace(/\n/g, ` \n${indent} * `)} */\n`;
}

/** Every named type (record, enum, fixed) in the catalog, by full name, with its enclosing namespace. */
function collectNamed(events: readonly CatalogEvent[]): Map<string, Named> {
  const named = new Map<string, Named>();
  const visit = (s: unknown, ns: string, file: string): void => {
    if (Array.isArray(s)) {
      for (const b of s) visit(b, ns, file);
      return;
    }
    if (!isObj(s)) return;
    const t = s['type'];
    if (t === 'record' || t === 'error' || t === 'enum' || t === 'fixed') {
      const fullName = fullNameOf(String(s['name']), typeof s['namespace'] === 'string' ? s['namespace'] : ns);
      const canonical = JSON.stringify(s);
      const prev = named.get(fullName);
      if (prev !== undefined && prev.canonical !== canonical) {
        throw new SchemaRegistryError(
          'INVALID_SCHEMA',
          `${fullName} is defined differently in ${prev.file} and ${file}; make the definitions identical or rename one.`,
          { path: file },
        );
      }
      if (prev === undefined) named.set(fullName, { fullName, canonical, file, schema: s, namespace: nsOf(fullName) });
      if (t === 'record' || t === 'error') {
        for (const f of (s['fields'] as unknown[]) ?? []) if (isObj(f)) visit(f['type'], nsOf(fullName), file);
      }
      return;
    }
    if (t === 'array') visit(s['items'], ns, file);
    else if (t === 'map') visit(s['values'], ns, file);
  };
  for (const e of events) visit(e.schema, '', e.file);
  return named;
}

/** TypeScript identifiers for named types: the short name, qualified by namespace only when two collide. */
function assignTsNames(named: ReadonlyMap<string, Named>): Map<string, string> {
  const byShort = new Map<string, string[]>();
  for (const n of named.keys()) byShort.set(shortName(n), [...(byShort.get(shortName(n)) ?? []), n]);
  const out = new Map<string, string>();
  for (const [short, fulls] of byShort) {
    for (const f of fulls) out.set(f, fulls.length === 1 ? short : `${pascal(nsOf(f).split('.').pop() ?? '')}${short}`);
  }
  return out;
}

class Emitter {
  private readonly emitted = new Set<string>();
  private readonly blocks: string[] = [];

  constructor(
    private readonly named: ReadonlyMap<string, Named>,
    private readonly tsNames: ReadonlyMap<string, string>,
  ) {}

  output(): string[] {
    return this.blocks;
  }

  /** The TS type of a schema; emits declarations for named types on first sight. */
  typeOf(s: unknown, ns: string): string {
    if (typeof s === 'string') {
      const prim = PRIMITIVE_TS[s];
      if (prim !== undefined) return prim;
      const full = this.named.has(fullNameOf(s, ns)) ? fullNameOf(s, ns) : s;
      const n = this.named.get(full);
      if (n === undefined) throw new SchemaRegistryError('INVALID_SCHEMA', `unknown type name ${s} in namespace ${ns}`);
      this.declare(n);
      return this.tsNames.get(full) ?? shortName(full);
    }
    if (Array.isArray(s)) return this.unionOf(s, ns);
    if (!isObj(s)) throw new SchemaRegistryError('INVALID_SCHEMA', `unsupported schema ${JSON.stringify(s)}`);
    const t = s['type'];
    if (t === 'record' || t === 'error' || t === 'enum' || t === 'fixed') {
      return this.typeOf(fullNameOf(String(s['name']), typeof s['namespace'] === 'string' ? s['namespace'] : ns), '');
    }
    if (t === 'array') return `${this.paren(this.typeOf(s['items'], ns))}[]`;
    if (t === 'map') return `Record<string, ${this.typeOf(s['values'], ns)}>`;
    return this.typeOf(t, ns);
  }

  private paren(ts: string): string {
    return ts.includes(' | ') ? `(${ts})` : ts;
  }

  private kindOf(s: unknown, ns: string): { kind: string; branch: string } {
    if (typeof s === 'string') {
      if (PRIMITIVE_TS[s] !== undefined) return { kind: s, branch: s };
      const full = this.named.has(fullNameOf(s, ns)) ? fullNameOf(s, ns) : s;
      const t = this.named.get(full)?.schema['type'];
      return { kind: typeof t === 'string' ? t : 'record', branch: full };
    }
    if (isObj(s)) {
      const t = s['type'];
      if (t === 'record' || t === 'error' || t === 'enum' || t === 'fixed') {
        return { kind: t, branch: fullNameOf(String(s['name']), typeof s['namespace'] === 'string' ? s['namespace'] : ns) };
      }
      if (typeof t === 'string') return { kind: t, branch: t };
    }
    return { kind: 'union', branch: 'union' };
  }

  private unionOf(branches: readonly unknown[], ns: string): string {
    const kinds = branches.map((b) => this.kindOf(b, ns));
    const buckets = kinds.map((k) => BUCKET[k.kind] ?? k.kind);
    const wrapped = new Set(buckets).size !== buckets.length;
    return branches
      .map((b, i) => {
        const ts = this.typeOf(b, ns);
        const k = kinds[i];
        // A wrapped union value is `{ <branch name>: value }`, except null which stays null.
        return !wrapped || k === undefined || k.kind === 'null' ? ts : `{ ${JSON.stringify(k.branch)}: ${ts} }`;
      })
      .join(' | ');
  }

  private declare(n: Named): void {
    if (this.emitted.has(n.fullName)) return;
    this.emitted.add(n.fullName);
    const tsName = this.tsNames.get(n.fullName) ?? shortName(n.fullName);
    const s = n.schema;
    const doc = typeof s['doc'] === 'string' && s['doc'] !== '' ? `${s['doc']} ` : '';
    const head = docComment(`${doc}Avro \`${n.fullName}\`.`, '');
    if (s['type'] === 'enum') {
      const symbols = (s['symbols'] as string[]).map((x) => JSON.stringify(x)).join(' | ');
      this.blocks.push(`${head}export type ${tsName} = ${symbols};`);
      return;
    }
    if (s['type'] === 'fixed') {
      this.blocks.push(`${head}export type ${tsName} = Buffer;`);
      return;
    }
    const slot = this.blocks.length;
    this.blocks.push('');
    const lines = (s['fields'] as Obj[]).map((f) => {
      const optional = Object.prototype.hasOwnProperty.call(f, 'default') ? '?' : '';
      return `${docComment(f['doc'], '  ')}  ${String(f['name'])}${optional}: ${this.typeOf(f['type'], n.namespace)};`;
    });
    this.blocks[slot] = `${head}export interface ${tsName} {\n${lines.join('\n')}\n}`;
  }
}

function literal(value: unknown, indent: string): string {
  return JSON.stringify(value, null, 2).replace(/\n/g, `\n${indent}`);
}

/**
 * The TypeScript module for a catalog: a payload interface and a `defineEventType` constant per
 * event (same identifier, so one import brings both), an `eventTypes` list and the parsed saga
 * `contracts`. Output depends only on the catalog, so `--check` can compare byte for byte.
 */
export function generateModule(catalog: Catalog, options: CodegenOptions = {}): string {
  const importFrom = options.importFrom ?? '@troupe/schema-registry';
  const coreImportFrom = options.coreImportFrom ?? '@troupe/core';
  const named = collectNamed(catalog.events);
  const tsNames = assignTsNames(named);
  const emitter = new Emitter(named, tsNames);
  const consts: string[] = [];
  for (const e of catalog.events) {
    const tsName = tsNames.get(e.name) ?? shortName(e.name);
    emitter.typeOf(e.name, '');
    consts.push(
      `export const ${tsName} = defineEventType<${tsName}>({\n  name: ${JSON.stringify(e.name)},\n  topic: ${JSON.stringify(e.topic)},\n  schema: ${literal(e.schema, '  ')},\n});`,
    );
  }
  const eventNames = catalog.events.map((e) => tsNames.get(e.name) ?? shortName(e.name));
  // The newest version of each saga under its name (what initiators start and step descriptors
  // follow); every version, older ones included, under `<saga>@<version>`.
  const latest = catalog.contracts.filter(
    (c) => !catalog.contracts.some((o) => o.contract.saga === c.contract.saga && contractVersion(o.contract) > contractVersion(c.contract)),
  );
  const versioned = catalog.contracts.some((c) => c.contract.version !== undefined);
  const keyed = [
    ...latest.map((c) => ({ key: c.contract.saga, contract: c.contract })),
    ...(versioned
      ? catalog.contracts.map((c) => ({ key: `${c.contract.saga}@${contractVersion(c.contract)}`, contract: c.contract }))
      : []),
  ];
  const contractEntries = keyed.map((c) => `  ${JSON.stringify(c.key)}: ${literal(c.contract, '  ')},`);
  const stepConsts = latest.map((c) => stepDescriptors(c.contract, (name) => tsNames.get(name)));
  const contractKeys = keyed.map((c) => `readonly ${JSON.stringify(c.key)}: SagaContract`).join('; ');
  return [
    `// Generated by \`troupe-schemas codegen\` from ${options.sourceLabel ?? 'schemas/'}. Do not edit: change the`,
    '// schemas and run codegen again (`codegen --check` fails in CI when this file is stale).',
    '// Avro long is a JS number here (avsc): exact up to 2^53.',
    `import type { SagaContract } from ${JSON.stringify(coreImportFrom)};`,
    `import { ${catalog.contracts.some((c) => c.contract.steps.length > 0) ? 'defineEventType, defineStep' : 'defineEventType'} } from ${JSON.stringify(importFrom)};`,
    ...(latest.some((c) => c.contract.steps.some((s) => stepAwaits(c.contract, s.name).flat().length > 1))
      ? [`import type { EventType } from ${JSON.stringify(importFrom)};`]
      : []),
    '',
    ...emitter.output().flatMap((b) => [b, '']),
    ...consts.flatMap((c) => [c, '']),
    '/** Every event type in the catalog, sorted by full name. */',
    `export const eventTypes = [${eventNames.join(', ')}] as const;`,
    '',
    versioned
      ? '/** Saga contracts by saga type (the newest version) and by `<saga>@<version>` (every version), durations in ms. */'
      : '/** Saga contracts by saga type, durations in ms. */',
    `export const contracts: { ${contractKeys} } = {`,
    ...contractEntries,
    '};',
    '',
    ...stepConsts.flatMap((c) => [c, '']),
  ].join('\n');
}

/** `order-fulfillment` → `orderFulfillment`. */
function camel(s: string): string {
  const p = pascal(s);
  return p.charAt(0).toLowerCase() + p.slice(1);
}

/**
 * One `defineStep` per contract step: its input is what its stage waits for (the saga's start
 * event, the previous step's outcome, or every branch of the previous parallel group); it
 * compensates on the failure events of its sibling branches and the later steps.
 */
function stepDescriptors(contract: SagaContract, tsNameOf: (eventName: string) => string | undefined): string {
  const ref = (name: string): string => {
    const ts = tsNameOf(name);
    if (ts === undefined)
      throw new SchemaRegistryError(
        'INVALID_SCHEMA',
        `saga ${contract.saga} names ${name}, which has no schema under schemas/; add it or fix the contract.`,
      );
    return ts;
  };
  const entries = contract.steps.map((step) => {
    const awaits = stepAwaits(contract, step.name).map((alternatives) => alternatives.map(ref));
    const inputs = [...new Set(awaits.flat())];
    const first = inputs[0] ?? ref(contract.start);
    const simple = awaits.length === 1 && awaits[0]?.length === 1;
    const fields = [
      `saga: ${JSON.stringify(contract.saga)}`,
      `name: ${JSON.stringify(step.name)}`,
      `participant: ${JSON.stringify(step.participant)}`,
      // Several inputs: the handler gets the payload of whichever let the step start.
      simple ? `on: ${first}` : `on: ${first} as EventType<${inputs.join(' | ')}>`,
      ...(simple ? [] : [`awaits: [${awaits.map((a) => `[${a.join(', ')}]`).join(', ')}]`]),
      ...(step.parallel !== undefined ? [`parallel: ${JSON.stringify(step.parallel)}`] : []),
      ...(step.optional === true ? ['optional: true'] : []),
      `completed: ${ref(step.completed)}`,
      `failed: ${ref(step.failed)}`,
      ...(step.compensated !== undefined ? [`compensated: ${ref(step.compensated)}`] : []),
      ...(step.compensationFailed !== undefined ? [`compensationFailed: ${ref(step.compensationFailed)}`] : []),
      `compensateOn: [${compensationTriggersOf(contract, step.name).map(ref).join(', ')}]`,
    ];
    const key = /^[A-Za-z_$][\w$]*$/.test(step.name) ? step.name : JSON.stringify(step.name);
    return `  ${key}: defineStep({\n    ${fields.join(',\n    ')},\n  }),`;
  });
  return [
    `/** Steps of saga \`${contract.saga}\` as its contract declares them: \`step(${camel(contract.saga)}.<step>, { handle, onGiveUp })\`. */`,
    `export const ${camel(contract.saga)} = {`,
    ...entries,
    '} as const;',
  ].join('\n');
}
