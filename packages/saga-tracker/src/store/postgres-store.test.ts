import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ORDER_CONTRACT, chain, shuffled } from '../order-saga.fixture.js';
import { project } from '../projection/index.js';
import { PostgresSagaStore } from './postgres-store.js';
import { describeSagaStoreContract } from './saga-store.case.js';

/** Tests need a real PostgreSQL; they fail (not skip) when it is unreachable. */
const PG_URL = process.env['TROUPE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

function freshSchema(): { schema: string; drop: () => Promise<void> } {
  const schema = `tracker_${randomBytes(5).toString('hex')}`;
  return {
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

describeSagaStoreContract('postgres', async (opts) => {
  const { schema, drop } = freshSchema();
  const store = await PostgresSagaStore.create({ connectionString: PG_URL, schema, contracts: [ORDER_CONTRACT], ...opts });
  return {
    store,
    dispose: async () => {
      await store.close();
      await drop();
    },
  };
});

describe('PostgresSagaStore', () => {
  it('stores offsets with the events, never moving an offset backwards', async () => {
    const { schema, drop } = freshSchema();
    const store = await PostgresSagaStore.create({ connectionString: PG_URL, schema });
    try {
      await store.apply({ events: chain('p-1', ['placed']), group: 'g', offsets: [{ topic: 'orders', partition: 0, next: '5' }] });
      await store.apply({ events: [], group: 'g', offsets: [{ topic: 'orders', partition: 0, next: '3' }] });
      await store.apply({ events: [], group: 'g', offsets: [{ topic: 'payments', partition: 1, next: '9' }] });
      expect(await store.offsets('g')).toEqual([
        { topic: 'orders', partition: 0, next: '5' },
        { topic: 'payments', partition: 1, next: '9' },
      ]);
      expect(await store.offsets('other')).toEqual([]);
    } finally {
      await store.close();
      await drop();
    }
  });

  it('converges when two instances write the same sagas concurrently', async () => {
    const { schema, drop } = freshSchema();
    const a = await PostgresSagaStore.create({ connectionString: PG_URL, schema, contracts: [ORDER_CONTRACT] });
    const b = await PostgresSagaStore.create({ connectionString: PG_URL, schema, contracts: [ORDER_CONTRACT] });
    try {
      const sagas = Array.from({ length: 20 }, (_, i) =>
        chain(`c-${i}`, ['placed', 'charged', 'outOfStock', 'refunded', 'cancelled'], { gapMs: 500 + i }),
      );
      const all = sagas.flat();
      // Each instance gets a different, overlapping, shuffled share, applied in small batches at once.
      const shareA = shuffled(
        all.filter((_, i) => i % 3 !== 0),
        1,
      );
      const shareB = shuffled(
        all.filter((_, i) => i % 3 !== 1),
        2,
      );
      const run = async (s: PostgresSagaStore, evs: typeof all): Promise<void> => {
        for (let i = 0; i < evs.length; i += 4) await s.apply({ events: evs.slice(i, i + 4) });
      };
      await Promise.all([run(a, shareA), run(b, shareB)]);
      for (const saga of sagas) {
        const id = saga[0]?.sagaId ?? '';
        const expected = project(saga, ORDER_CONTRACT);
        expect((await a.get(id))?.projection).toEqual(expected);
        expect((await b.get(id))?.projection).toEqual(expected);
      }
    } finally {
      await a.close();
      await b.close();
      await drop();
    }
  });

  it('re-projects sagas stored by an older tracker when it opens, so new fields exist for every saga', async () => {
    const { schema, drop } = freshSchema();
    const first = await PostgresSagaStore.create({ connectionString: PG_URL, schema, contracts: [ORDER_CONTRACT] });
    await first.apply({ events: chain('u-1', ['placed', 'reserved', 'charged']) });
    await first.close();
    // What a tracker before deviations left behind: no version, no deviations.
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`UPDATE "${schema}".sagas SET projection = projection - 'deviations', deviation_kinds = '{}', projection_version = NULL`);
    await c.end();
    const reopened = await PostgresSagaStore.create({ connectionString: PG_URL, schema, contracts: [ORDER_CONTRACT] });
    try {
      expect((await reopened.get('u-1'))?.projection.deviations.map((d) => d.kind)).toEqual(['out-of-order']);
      expect((await reopened.list({ now: Date.now(), deviation: 'out-of-order' })).items.map((s) => s.sagaId)).toEqual(['u-1']);
    } finally {
      await reopened.close();
      await drop();
    }
  });

  it('rejects a schema name that is not a plain identifier', async () => {
    await expect(PostgresSagaStore.create({ connectionString: PG_URL, schema: 'x; drop table y' })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    });
  });
});
