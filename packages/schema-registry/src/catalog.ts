import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import avro from 'avsc';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { attributeFieldProblem } from './attribute-field.js';
import type { AvroRecordSchema } from './avro-schema.js';
import { validateContractFormat, type SagaContractDocument, type StepDocument } from './contract-format.js';
import { parseDuration } from '@troupe/core';
import type { EventType } from './event-type.js';
import { SchemaRegistryError } from './errors.js';
import { contractVersion, type SagaContract, type SagaStepContract } from '@troupe/core';
import { versionProblems } from './contract-versions.js';
import type { CatalogContract, CatalogProblem } from './catalog-entries.js';
export type { CatalogContract, CatalogProblem } from './catalog-entries.js';
import { formatProblem } from './catalog-entries.js';
export { formatProblem };

/** An event type loaded from `schemas/<topic>/<Name>.avsc`. */
export interface CatalogEvent extends EventType {
  /** Path of the `.avsc` file, relative to the catalog directory. */
  readonly file: string;
}

/** Everything in a `schemas/` directory, validated. Events sorted by full name, contracts by saga. */
export interface Catalog {
  readonly dir: string;
  readonly events: readonly CatalogEvent[];
  readonly contracts: readonly CatalogContract[];
}

const SAGAS_DIR = 'sagas';
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

function pathText(path: readonly (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`), '');
}

/** Where inside `root` the object `target` sits, as a path, found by identity. */
function findPath(root: unknown, target: unknown, path: (string | number)[] = []): (string | number)[] | undefined {
  if (root === target) return path;
  if (Array.isArray(root)) {
    for (let i = 0; i < root.length; i++) {
      const p = findPath(root[i], target, [...path, i]);
      if (p) return p;
    }
  } else if (root !== null && typeof root === 'object') {
    for (const [k, v] of Object.entries(root)) {
      const p = findPath(v, target, [...path, k]);
      if (p) return p;
    }
  }
  return undefined;
}

function lineOfPosition(text: string, message: string): number | undefined {
  const m = /position (\d+)/.exec(message);
  if (m === null) return undefined;
  return text.slice(0, Number(m[1])).split('\n').length;
}

function loadSchemaFile(file: string, topic: string, text: string, problems: CatalogProblem[]): CatalogEvent | undefined {
  const bad = (path: string, message: string, line?: number): undefined => {
    problems.push({ code: 'INVALID_SCHEMA', file, path, message, ...(line === undefined ? {} : { line }) });
    return undefined;
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return bad(
      '',
      `is not valid JSON (${(err as Error).message}); an .avsc file holds one JSON Avro schema`,
      lineOfPosition(text, (err as Error).message),
    );
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json) || (json as { type?: unknown }).type !== 'record') {
    return bad('type', `must be "record": an event's schema is an Avro record`);
  }
  const rec = json as Partial<AvroRecordSchema>;
  if (typeof rec.name !== 'string') return bad('name', 'is missing: give the record a name matching the file name');
  if (typeof rec.namespace !== 'string' && !rec.name.includes('.')) {
    return bad('namespace', `is missing: events need a full name (the ce_type), e.g. "namespace": "com.acme.${topic}"`);
  }
  // Remember the last sub-schema avsc looked at, so an error can be placed at a path in the file.
  let last: unknown;
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(json as avro.Schema, {
      typeHook: (s) => {
        last = s;
        return undefined;
      },
    });
  } catch (err) {
    const where = last === undefined ? undefined : findPath(json, last);
    return bad(
      where === undefined ? '' : pathText(where),
      `is not valid Avro: ${(err as Error).message}. See the Avro specification for the schema syntax.`,
    );
  }
  const fullName = type.name ?? '';
  const shortName = fullName.slice(fullName.lastIndexOf('.') + 1);
  const expected = `${shortName}.avsc`;
  if (!file.endsWith(`/${expected}`)) return bad('name', `record ${fullName} must live in a file named ${expected}`);
  return { name: fullName, topic, schema: json as AvroRecordSchema, file };
}

function yamlProblemLine(lc: LineCounter, offset: number | undefined): number | undefined {
  return offset === undefined ? undefined : lc.linePos(offset).line;
}

function loadContractFile(
  file: string,
  text: string,
  known: ReadonlyMap<string, AvroRecordSchema>,
  problems: CatalogProblem[],
): SagaContract | undefined {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const bad = (path: readonly (string | number)[], message: string): void => {
    // Point at the deepest node that exists: a missing key is reported at its parent.
    let line: number | undefined;
    for (let n = path.length; n >= 0 && line === undefined; n--) {
      const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node)) line = yamlProblemLine(lc, node.range?.[0]);
    }
    problems.push({ code: 'INVALID_CONTRACT', file, path: pathText(path), message, ...(line === undefined ? {} : { line }) });
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      problems.push({
        code: 'INVALID_CONTRACT',
        file,
        line: yamlProblemLine(lc, e.pos[0]) ?? 1,
        path: '',
        message: `is not valid YAML: ${e.message.split('\n')[0] ?? ''}`,
      });
    }
    return undefined;
  }
  const format = validateContractFormat(doc.toJS());
  if (!format.ok) {
    for (const p of format.problems) bad(p.path, p.message);
    return undefined;
  }
  const c: SagaContractDocument = format.doc;
  const before = problems.length;
  const ref = (path: (string | number)[], name: string | undefined): void => {
    if (name !== undefined && !known.has(name)) {
      const ns = name.slice(0, name.lastIndexOf('.'));
      const near = [...known.keys()].filter((k) => k.startsWith(`${ns}.`));
      bad(
        path,
        `names unknown event type ${name}: add schemas/<topic>/${name.slice(ns.length + 1)}.avsc or fix the name${near.length > 0 ? ` (known in ${ns}: ${near.join(', ')})` : ''}`,
      );
    }
  };
  // The newest version in <saga>.saga.yaml; any version may live in <saga>.v<N>.saga.yaml.
  const version = c.version ?? 1;
  if (!file.endsWith(`/${c.saga}.saga.yaml`) && !file.endsWith(`/${c.saga}.v${version}.saga.yaml`)) {
    bad(['saga'], `saga '${c.saga}' version ${version} must live in a file named ${c.saga}.saga.yaml or ${c.saga}.v${version}.saga.yaml`);
  }
  ref(['start'], c.start);
  ref(['end', 'completed'], c.end.completed);
  ref(['end', 'aborted'], c.end.aborted);
  // Groups flattened into their branches, each with the path of its YAML node for messages.
  const flat = flattenSteps(c);
  const seenSteps = new Map<string, string>();
  const seenEvents = new Map<string, string>([
    [c.start, 'start'],
    [c.end.completed, 'end.completed'],
    [c.end.aborted, 'end.aborted'],
  ]);
  for (const { doc: s, path } of flat) {
    if (seenSteps.has(s.name)) bad([...path, 'name'], `step '${s.name}' is declared twice; step names must be unique`);
    seenSteps.set(s.name, 'step');
    for (const key of ['completed', 'failed', 'compensated', 'compensationFailed'] as const) {
      const name = s[key];
      if (name === undefined) continue;
      ref([...path, key], name);
      const other = seenEvents.get(name);
      // The tracker infers a step's state from the event type; one type in two roles is ambiguous.
      if (other !== undefined) bad([...path, key], `${name} is already used as ${other}; each event type may have one role in a saga`);
      seenEvents.set(name, `${pathText(path)}.${key}`);
    }
  }
  c.steps.forEach((entry, i) => {
    if (!('parallel' in entry)) return;
    // A group name labels the stage in the tracker and in messages; it must not pass for a step.
    if (seenSteps.has(entry.parallel)) {
      bad(['steps', i, 'parallel'], `'${entry.parallel}' is already the name of a step or group; name the group differently`);
    }
    seenSteps.set(entry.parallel, 'group');
  });
  const seenAttributes = new Set<string>();
  (c.attributes ?? []).forEach((a, i) => {
    if (seenAttributes.has(a.name))
      bad(['attributes', i, 'name'], `attribute '${a.name}' is declared twice; attribute names must be unique`);
    seenAttributes.add(a.name);
    if (!seenEvents.has(a.from)) {
      bad(['attributes', i, 'from'], `${a.from} is not an event of this saga; take attributes from its start, step or end events`);
      return;
    }
    const schema = known.get(a.from);
    const problem = schema === undefined ? undefined : attributeFieldProblem(schema, a.field.split('.'));
    if (problem !== undefined) bad(['attributes', i, 'field'], `${problem} in ${a.from}`);
  });
  if (problems.length > before) return undefined;
  const steps: SagaStepContract[] = flat.map(({ doc: s, group }) => ({
    name: s.name,
    participant: s.participant,
    completed: s.completed,
    failed: s.failed,
    ...(s.compensated === undefined ? {} : { compensated: s.compensated }),
    ...(s.compensationFailed === undefined ? {} : { compensationFailed: s.compensationFailed }),
    ...(s.within === undefined ? {} : { withinMs: parseDuration(s.within) ?? 0 }),
    ...(s.onTimeout === undefined ? {} : { onTimeout: s.onTimeout }),
    ...(group === undefined ? {} : { parallel: group }),
    ...(s.optional === true ? { optional: true } : {}),
  }));
  return {
    saga: c.saga,
    ...(c.version === undefined ? {} : { version: c.version }),
    start: c.start,
    ...(c.initiator === undefined ? {} : { initiator: c.initiator }),
    ...(c.deadline === undefined ? {} : { deadlineMs: parseDuration(c.deadline) ?? 0 }),
    ...(c.onTimeout === undefined ? {} : { onTimeout: c.onTimeout }),
    steps,
    end: { completed: c.end.completed, aborted: c.end.aborted },
    ...(c.attributes === undefined
      ? {}
      : { attributes: c.attributes.map((a) => ({ name: a.name, from: a.from, path: a.field.split('.') })) }),
  };
}

interface FlatStep {
  readonly doc: StepDocument;
  readonly path: (string | number)[];
  readonly group: string | undefined;
}

/** The steps of a contract document in order, parallel groups replaced by their branches. */
function flattenSteps(c: SagaContractDocument): FlatStep[] {
  return c.steps.flatMap((entry, i): FlatStep[] =>
    'parallel' in entry
      ? entry.branches.map((b, j) => ({ doc: b, path: ['steps', i, 'branches', j], group: entry.parallel }))
      : [{ doc: entry, path: ['steps', i], group: undefined }],
  );
}

async function listDir(dir: string): Promise<{ name: string; isDir: boolean }[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.map((e) => ({ name: e.name, isDir: e.isDirectory() })).sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * Reads and validates a schemas directory: `<topic>/<Name>.avsc` event schemas and
 * `sagas/<saga>.saga.yaml` contracts. Returns every problem found, not just the first.
 */
export async function inspectCatalog(dir: string): Promise<{ catalog: Catalog; problems: CatalogProblem[] }> {
  const problems: CatalogProblem[] = [];
  const events: CatalogEvent[] = [];
  let top: { name: string; isDir: boolean }[];
  try {
    top = await listDir(dir);
  } catch (err) {
    throw new SchemaRegistryError(
      'INVALID_SCHEMA',
      `cannot read schemas directory ${dir}: ${(err as Error).message}. Pass the directory that holds <topic>/*.avsc and sagas/.`,
      { cause: err, path: dir },
    );
  }
  // Paths as the user typed them from here, absolute when outside the working directory.
  const rel = (p: string): string => {
    const r = relative(process.cwd(), p);
    return r === '' || r.startsWith('..') ? p : r;
  };
  for (const t of top.filter((e) => e.isDir && e.name !== SAGAS_DIR)) {
    for (const f of (await listDir(join(dir, t.name))).filter((e) => !e.isDir && e.name.endsWith('.avsc'))) {
      const file = rel(join(dir, t.name, f.name));
      if (!TOPIC.test(t.name)) {
        problems.push({
          code: 'INVALID_SCHEMA',
          file,
          path: '',
          message: `folder '${t.name}' is not a valid Kafka topic name (letters, digits, '.', '_', '-')`,
        });
        continue;
      }
      const ev = loadSchemaFile(file, t.name, await readFile(join(dir, t.name, f.name), 'utf8'), problems);
      if (ev === undefined) continue;
      const dup = events.find((e) => e.name === ev.name);
      if (dup) {
        problems.push({
          code: 'INVALID_SCHEMA',
          file,
          path: 'name',
          message: `${ev.name} is also defined by ${dup.file}; each event type has one schema file`,
        });
        continue;
      }
      events.push(ev);
    }
  }
  events.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const known = new Map(events.map((e) => [e.name, e.schema]));
  const contracts: CatalogContract[] = [];
  if (top.some((e) => e.isDir && e.name === SAGAS_DIR)) {
    for (const f of (await listDir(join(dir, SAGAS_DIR))).filter((e) => !e.isDir && /\.saga\.ya?ml$/.test(e.name))) {
      const file = rel(join(dir, SAGAS_DIR, f.name));
      const contract = loadContractFile(file, await readFile(join(dir, SAGAS_DIR, f.name), 'utf8'), known, problems);
      if (contract === undefined) continue;
      const dup = contracts.find((c) => c.contract.saga === contract.saga && contractVersion(c.contract) === contractVersion(contract));
      if (dup) {
        problems.push({
          code: 'INVALID_CONTRACT',
          file,
          path: 'saga',
          message: `saga '${contract.saga}' version ${contractVersion(contract)} is also defined by ${dup.file}; give the new one the next version`,
        });
        continue;
      }
      contracts.push({ file, contract });
    }
  }
  contracts.sort((a, b) =>
    a.contract.saga !== b.contract.saga
      ? a.contract.saga < b.contract.saga
        ? -1
        : 1
      : contractVersion(a.contract) - contractVersion(b.contract),
  );
  for (const c of contracts) for (const p of versionProblems(c, contracts)) problems.push(p);
  return { catalog: { dir, events, contracts }, problems };
}

/** Like {@link inspectCatalog}, but throws a {@link SchemaRegistryError} listing every problem. */
export async function loadCatalog(dir: string): Promise<Catalog> {
  const { catalog, problems } = await inspectCatalog(dir);
  const first = problems[0];
  if (first !== undefined) {
    throw new SchemaRegistryError(
      first.code,
      `${problems.length} problem${problems.length > 1 ? 's' : ''} in ${dir}:\n${problems.map(formatProblem).join('\n')}`,
      { path: first.file },
    );
  }
  return catalog;
}
