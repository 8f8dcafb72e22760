import avro from 'avsc';
import type { AvroSchema } from './avro-schema.js';
import { SchemaRegistryError } from './errors.js';

/** One way a payload fails its schema: where (dotted path, `items[2].sku`) and what is wrong. */
export interface PayloadProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * Builds the avsc type for a schema. Options match what `@kafkajs/confluent-schema-registry` uses
 * (avsc defaults: unions unwrapped when unambiguous), so both codecs produce and accept the same
 * JavaScript values.
 */
export function avroTypeOf(schema: AvroSchema, context = 'schema'): avro.Type {
  try {
    return avro.Type.forSchema(schema as avro.Schema);
  } catch (err) {
    throw new SchemaRegistryError(
      'INVALID_SCHEMA',
      `${context} is not a valid Avro schema: ${(err as Error).message}. Fix the schema (see https://avro.apache.org/docs/1.11.1/specification/).`,
      { cause: err, path: context },
    );
  }
}

function describeType(type: avro.Type): string {
  if (type instanceof avro.types.EnumType) return `one of ${type.symbols.map((s) => `'${s}'`).join(', ')}`;
  if (type instanceof avro.types.UnwrappedUnionType || type instanceof avro.types.WrappedUnionType) {
    return type.types.map(describeType).join(' or ');
  }
  if (type instanceof avro.types.ArrayType) return `an array of ${describeType(type.itemsType)}`;
  if (type.name !== undefined) return `a ${type.typeName} ${type.name}`;
  return `a ${type.typeName}`;
}

function describeValue(val: unknown): string {
  if (val === undefined) return 'nothing';
  if (val === null) return 'null';
  if (typeof val === 'string') return `string ${JSON.stringify(val.length > 40 ? `${val.slice(0, 40)}…` : val)}`;
  if (Array.isArray(val)) return 'an array';
  if (typeof val === 'number' && !Number.isSafeInteger(val) && Number.isInteger(val)) return `${val} (beyond 2^53)`;
  if (typeof val === 'object') return 'an object';
  if (typeof val === 'number' || typeof val === 'boolean' || typeof val === 'bigint') return `${typeof val} ${val}`;
  return typeof val;
}

function joinPath(parts: readonly string[]): string {
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`), '');
}

/**
 * Every problem of `value` against `type`, each naming the offending field. Undeclared fields are
 * problems too: a misspelt optional field would otherwise be dropped silently on encode.
 */
export function payloadProblems(type: avro.Type, value: unknown): PayloadProblem[] {
  const problems: PayloadProblem[] = [];
  collect(type, value, [], problems);
  return problems;
}

function collect(type: avro.Type, value: unknown, base: readonly string[], problems: PayloadProblem[]): void {
  type.isValid(value, {
    noUndeclaredFields: true,
    errorHook: (rel: string[], val: unknown, t: avro.Type) => {
      const path = [...base, ...rel];
      if (t instanceof avro.types.RecordType && val !== null && typeof val === 'object' && !Array.isArray(val)) {
        const declared = new Set(t.fields.map((f) => f.name));
        const extra = Object.keys(val).filter((k) => !declared.has(k));
        if (extra.length > 0) {
          for (const k of extra) {
            problems.push({ path: joinPath([...path, k]), message: `is not a field of ${t.name ?? 'the record'}` });
          }
          // avsc stops at the undeclared field; the declared ones may be wrong too.
          for (const f of t.fields) collect(f.type, (val as Record<string, unknown>)[f.name], [...path, f.name], problems);
          return;
        }
      }
      problems.push({
        path: joinPath(path),
        message: val === undefined ? `is missing (expected ${describeType(t)})` : `must be ${describeType(t)}, got ${describeValue(val)}`,
      });
    },
  });
}

/** Throws `PAYLOAD_INVALID` naming every offending field, or returns when the payload is valid. */
export function assertPayloadValid(type: avro.Type, typeName: string, value: unknown): void {
  if (type.isValid(value, { noUndeclaredFields: true })) return;
  const problems = payloadProblems(type, value);
  const listed = problems.map((p) => `${p.path === '' ? '(payload)' : `'${p.path}'`} ${p.message}`).join('; ');
  throw new SchemaRegistryError(
    'PAYLOAD_INVALID',
    `payload for ${typeName} does not match its schema: ${listed}. Fix the payload; nothing was sent.`,
    { path: problems[0]?.path ?? '' },
  );
}
