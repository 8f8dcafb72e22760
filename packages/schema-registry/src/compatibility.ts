import avro from 'avsc';
import type { AvroSchema } from './avro-schema.js';
import { avroTypeOf } from './avro-types.js';

/** Confluent's compatibility levels; the same names the REST API's `/config` uses. */
export const COMPATIBILITY_LEVELS = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

export function isCompatibilityLevel(s: string): s is CompatibilityLevel {
  return (COMPATIBILITY_LEVELS as readonly string[]).includes(s);
}

/** One failed check: which registered version, which direction, and why (naming field, type or symbol). */
export interface CompatibilityProblem {
  /** 1-based position in the registered versions given (oldest first). */
  readonly version: number;
  /** `new reads old`: consumers upgraded first break; `old reads new`: consumers not yet upgraded break. */
  readonly direction: 'new reads old' | 'old reads new';
  readonly reason: string;
}

export interface CompatibilityResult {
  readonly compatible: boolean;
  readonly level: CompatibilityLevel;
  readonly problems: readonly CompatibilityProblem[];
}

const PROMOTIONS: Readonly<Record<string, readonly string[]>> = {
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  string: ['bytes'],
  bytes: ['string'],
};

function label(t: avro.Type): string {
  return t.name ?? t.typeName.replace(/^union:.*/, 'union');
}

function unionBranches(t: avro.Type): avro.Type[] | undefined {
  return t instanceof avro.types.UnwrappedUnionType || t instanceof avro.types.WrappedUnionType ? t.types : undefined;
}

function namesMatch(reader: avro.Type, writer: avro.Type): boolean {
  return reader.name === writer.name || (writer.name !== undefined && (reader.aliases ?? []).includes(writer.name));
}

const at = (path: string): string => (path === '' ? 'the record' : `field '${path}'`);
const join = (path: string, name: string): string => (path === '' ? name : `${path}.${name}`);

/**
 * Why a reader with `reader` cannot read data written with `writer`, following the Avro
 * specification's resolution rules, or `undefined` when it can. Used only to explain: the verdict
 * itself is avsc's resolver, so the two cannot disagree silently (see {@link checkCompatibility}).
 */
export function explainIncompatibility(reader: avro.Type, writer: avro.Type, path = ''): string | undefined {
  const wBranches = unionBranches(writer);
  const rBranches = unionBranches(reader);
  if (wBranches) {
    for (const wb of wBranches) {
      const why = explainIncompatibility(reader, wb, path);
      if (why !== undefined) return `${at(path)}: the writer's union branch ${label(wb)} cannot be read (${why})`;
    }
    return undefined;
  }
  if (rBranches) {
    if (rBranches.some((rb) => explainIncompatibility(rb, writer, path) === undefined)) return undefined;
    return `${at(path)}: no branch of the reader's union [${rBranches.map(label).join(', ')}] can read ${label(writer)}`;
  }
  if (reader.typeName !== writer.typeName) {
    if ((PROMOTIONS[writer.typeName] ?? []).includes(reader.typeName)) return undefined;
    return `${at(path)}: type changed from ${label(writer)} to ${label(reader)}, which Avro cannot promote`;
  }
  if (reader instanceof avro.types.RecordType && writer instanceof avro.types.RecordType) {
    if (!namesMatch(reader, writer))
      return `${at(path)}: record name changed from ${writer.name ?? '?'} to ${reader.name ?? '?'} without an alias`;
    for (const rf of reader.fields) {
      const wf = writer.fields.find((f) => f.name === rf.name || rf.aliases.includes(f.name));
      if (wf === undefined) {
        if (rf.defaultValue() === undefined) {
          return `field '${join(path, rf.name)}' is read without a default but the writer's ${writer.name ?? 'record'} has no such field (give it a default, or keep it)`;
        }
        continue;
      }
      const why = explainIncompatibility(rf.type, wf.type, join(path, rf.name));
      if (why !== undefined) return why;
    }
    return undefined;
  }
  if (reader instanceof avro.types.EnumType && writer instanceof avro.types.EnumType) {
    if (!namesMatch(reader, writer))
      return `${at(path)}: enum name changed from ${writer.name ?? '?'} to ${reader.name ?? '?'} without an alias`;
    const missing = writer.symbols.filter((s) => !reader.symbols.includes(s));
    const readerDefault = (reader.schema() as { default?: string }).default;
    if (missing.length > 0 && readerDefault === undefined) {
      return `${at(path)}: enum ${label(reader)} lacks symbol${missing.length > 1 ? 's' : ''} ${missing.map((s) => `'${s}'`).join(', ')} that the writer may send (add it, or give the enum a default)`;
    }
    return undefined;
  }
  if (reader instanceof avro.types.ArrayType && writer instanceof avro.types.ArrayType) {
    return explainIncompatibility(reader.itemsType, writer.itemsType, `${path}[]`);
  }
  if (reader instanceof avro.types.MapType && writer instanceof avro.types.MapType) {
    return explainIncompatibility(reader.valuesType as avro.Type, writer.valuesType as avro.Type, `${path}{}`);
  }
  if (reader instanceof avro.types.FixedType && writer instanceof avro.types.FixedType) {
    if (!namesMatch(reader, writer)) return `${at(path)}: fixed name changed from ${writer.name ?? '?'} to ${reader.name ?? '?'}`;
    if (reader.size !== writer.size) return `${at(path)}: fixed size changed from ${writer.size} to ${reader.size}`;
  }
  return undefined;
}

/** Whether `reader` can read what `writer` wrote; the reason when not. Decided by avsc's resolver. */
export function canRead(reader: avro.Type, writer: avro.Type): { ok: true } | { ok: false; reason: string } {
  try {
    reader.createResolver(writer);
    return { ok: true };
  } catch (err) {
    const reason = explainIncompatibility(reader, writer) ?? (err as Error).message;
    return { ok: false, reason };
  }
}

/**
 * Checks a candidate schema against the registered versions of a subject (oldest first) the way a
 * Confluent registry does: BACKWARD means the candidate reads the latest, FORWARD that the latest
 * reads the candidate, FULL both; the `_TRANSITIVE` variants check every version, not just the latest.
 */
export function checkCompatibility(
  level: CompatibilityLevel,
  registered: readonly AvroSchema[],
  candidate: AvroSchema,
): CompatibilityResult {
  const cand = avroTypeOf(candidate, 'candidate schema');
  if (level === 'NONE' || registered.length === 0) return { compatible: true, level, problems: [] };
  const transitive = level.endsWith('_TRANSITIVE');
  const first = transitive ? 0 : registered.length - 1;
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const problems: CompatibilityProblem[] = [];
  for (let i = first; i < registered.length; i++) {
    const old = avroTypeOf(registered[i] as AvroSchema, `registered version ${i + 1}`);
    if (backward) {
      const r = canRead(cand, old);
      if (!r.ok) problems.push({ version: i + 1, direction: 'new reads old', reason: r.reason });
    }
    if (forward) {
      const r = canRead(old, cand);
      if (!r.ok) problems.push({ version: i + 1, direction: 'old reads new', reason: r.reason });
    }
  }
  return { compatible: problems.length === 0, level, problems };
}

/** One line per problem, for CLI output and error messages. */
export function formatCompatibility(result: CompatibilityResult): string {
  if (result.compatible) return `compatible (${result.level})`;
  return [`incompatible (${result.level}):`, ...result.problems.map((p) => `  version ${p.version}, ${p.direction}: ${p.reason}`)].join(
    '\n',
  );
}
