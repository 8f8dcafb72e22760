import { describe, expect, it } from 'vitest';
import type { AvroRecordSchema } from './avro-schema.js';
import { checkCompatibility, formatCompatibility } from './compatibility.js';

const v = (...fields: AvroRecordSchema['fields']): AvroRecordSchema => ({ type: 'record', name: 'E', namespace: 'com.acme.t', fields });

describe('checkCompatibility', () => {
  it('checks only the latest version unless transitive', () => {
    const v1 = v({ name: 'a', type: 'int' });
    const v2 = v({ name: 'a', type: 'int' }, { name: 'b', type: 'string', default: 'x' });
    const v3 = v({ name: 'a', type: 'int' }, { name: 'b', type: 'string' });
    expect(checkCompatibility('BACKWARD', [v1, v2], v3).compatible).toBe(true);
    const t = checkCompatibility('BACKWARD_TRANSITIVE', [v1, v2], v3);
    expect(t.compatible).toBe(false);
    expect(t.problems).toEqual([
      {
        version: 1,
        direction: 'new reads old',
        reason: "field 'b' is read without a default but the writer's com.acme.t.E has no such field (give it a default, or keep it)",
      },
    ]);
  });

  it('names the nested field, the type change and the enum symbol', () => {
    const inner = (t: string): AvroRecordSchema['fields'][number] => ({
      name: 'line',
      type: { type: 'record', name: 'Line', fields: [{ name: 'qty', type: t }] },
    });
    expect(checkCompatibility('FULL', [v(inner('int'))], v(inner('long'))).problems.map((p) => p.reason)).toEqual([
      "field 'line.qty': type changed from long to int, which Avro cannot promote",
    ]);
    const e = (symbols: string[]): AvroRecordSchema => v({ name: 'm', type: { type: 'enum', name: 'M', symbols } });
    const r = checkCompatibility('FORWARD', [e(['A'])], e(['A', 'B']));
    expect(formatCompatibility(r)).toBe(
      "incompatible (FORWARD):\n  version 1, old reads new: field 'm': enum com.acme.t.M lacks symbol 'B' that the writer may send (add it, or give the enum a default)",
    );
  });

  it('accepts anything at NONE and anything as the first version', () => {
    expect(checkCompatibility('NONE', [v({ name: 'a', type: 'int' })], v({ name: 'a', type: 'string' })).compatible).toBe(true);
    expect(checkCompatibility('FULL_TRANSITIVE', [], v({ name: 'a', type: 'int' })).compatible).toBe(true);
  });

  it('explains a union branch the reader cannot take', () => {
    const r = checkCompatibility('FORWARD', [v({ name: 'a', type: 'int' })], v({ name: 'a', type: ['null', 'int'], default: null }));
    expect(r.problems[0]?.reason).toBe(
      "field 'a': the writer's union branch null cannot be read (field 'a': type changed from null to int, which Avro cannot promote)",
    );
  });
});
