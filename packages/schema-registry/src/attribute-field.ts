import type { AvroRecordSchema, AvroSchema } from './avro-schema.js';

const SCALARS = new Set(['string', 'int', 'long', 'boolean', 'float', 'double']);

/**
 * Checks that `path` names a scalar field (string, number, boolean or enum, possibly nullable) in
 * an event's record schema, so a saga attribute is something an operator can type into a filter.
 * Returns what is wrong, or undefined when the path is fine.
 */
export function attributeFieldProblem(schema: AvroRecordSchema, path: readonly string[]): string | undefined {
  const named = new Map<string, AvroSchema>();
  collectNamed(schema, schema.namespace, named);
  let current: AvroSchema = schema;
  for (let i = 0; i < path.length; i++) {
    const rec = asRecord(current, named);
    const where = path.slice(0, i).join('.') || schema.name;
    if (rec === undefined) return `${where} is not a record, so it has no field '${path[i] ?? ''}'`;
    const field = rec.fields.find((f) => f.name === path[i]);
    if (field === undefined) return `${where} has no field '${path[i] ?? ''}' (fields: ${rec.fields.map((f) => f.name).join(', ')})`;
    current = field.type;
  }
  if (!isScalar(current, named)) return `${path.join('.')} is not a string, number, boolean or enum field`;
  return undefined;
}

/** A union's non-null branch when it has exactly one; the schema itself otherwise. */
function unwrap(s: AvroSchema, named: ReadonlyMap<string, AvroSchema>): AvroSchema {
  let t = s;
  if (Array.isArray(t)) {
    const branches = t.filter((b) => b !== 'null');
    if (branches.length !== 1 || branches[0] === undefined) return t;
    t = branches[0];
  }
  if (typeof t === 'string') return named.get(t) ?? t;
  return t;
}

function asRecord(s: AvroSchema, named: ReadonlyMap<string, AvroSchema>): AvroRecordSchema | undefined {
  const t = unwrap(s, named);
  return typeof t === 'object' && !Array.isArray(t) && (t.type === 'record' || t.type === 'error') && 'fields' in t ? t : undefined;
}

function isScalar(s: AvroSchema, named: ReadonlyMap<string, AvroSchema>): boolean {
  const t = unwrap(s, named);
  if (typeof t === 'string') return SCALARS.has(t);
  if (Array.isArray(t)) return false;
  return t.type === 'enum' || SCALARS.has(t.type);
}

/** Named types (records, enums, fixed) by simple and full name, for references by name. */
function collectNamed(s: AvroSchema, ns: string | undefined, out: Map<string, AvroSchema>): void {
  if (typeof s === 'string') return;
  if (Array.isArray(s)) {
    for (const b of s) collectNamed(b, ns, out);
    return;
  }
  if (s.type === 'record' || s.type === 'error' || s.type === 'enum' || s.type === 'fixed') {
    const own = s.namespace ?? ns;
    out.set(s.name, s);
    if (own !== undefined && !s.name.includes('.')) out.set(`${own}.${s.name}`, s);
    if (s.type === 'record' || s.type === 'error') for (const f of s.fields) collectNamed(f.type, own, out);
  } else if (s.type === 'array') collectNamed(s.items, ns, out);
  else if (s.type === 'map') collectNamed(s.values, ns, out);
}
