// The README's "run" command, end to end: `npm run demo -- --sagas N --exit-when-done` on the
// embedded default and with --kafka on the real broker, including services killed with SIGKILL.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { headerString } from '@troupe/core';
import { kafkaBrokers, testKafka, uniqueGroup } from '@troupe/testing';
import { describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../examples/order-fulfillment/dist/demo.js', import.meta.url));
const TOPICS = ['orders', 'payments', 'inventory', 'shipping'];
const SERVICES = ['order-service', 'payment-service', 'inventory-service', 'shipping-service'];

interface Summary {
  sagas: number;
  orders?: number;
  expected: Record<string, number>;
  tracker: Record<string, number>;
}

interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
  summary: Summary;
  prefix: string;
}

function runDemo(args: string[], onStderr?: (text: string, all: string) => void): Promise<DemoRun> {
  if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: run \`npm run build\` (npm test does it for you).`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args, '--port', '0'], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      onStderr?.(d, stderr);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const last = stdout.trimEnd().split('\n').at(-1) ?? '';
      const prefix = /saga ids: (\S+)\*/.exec(stderr)?.[1];
      try {
        if (prefix === undefined) throw new Error('the demo did not print its saga id prefix');
        resolve({ code, stdout, stderr, summary: JSON.parse(last) as Summary, prefix });
      } catch (err) {
        reject(
          new Error(
            `demo exited ${code} without a JSON summary as its last line (${String(err)}).\nstdout:\n${stdout}\nstderr:\n${stderr.slice(-4000)}`,
          ),
        );
      }
    });
  });
}

/** Every event of the run, read back as a read_committed consumer sees them: saga id → ce_types. */
async function committedEventsBySaga(prefix: string, expectedSagas: number): Promise<Map<string, string[]>> {
  const kafka = testKafka();
  const consumer = kafka.consumer({ groupId: uniqueGroup('demo-audit'), readUncommitted: false });
  const bySaga = new Map<string, string[]>();
  const seen = new Set<string>();
  const admin = kafka.admin();
  await admin.connect();
  const ends = await Promise.all(TOPICS.map(async (t) => ({ t, offsets: await admin.fetchTopicOffsets(t) })));
  await admin.disconnect();
  const remaining = new Map(ends.flatMap(({ t, offsets }) => offsets.map((o) => [`${t}/${o.partition}`, BigInt(o.high)] as const)));
  await consumer.connect();
  await consumer.subscribe({ topics: TOPICS, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('reading the topics back took over 60 s')), 60_000);
    const check = (): void => {
      if ([...remaining.values()].every((high) => high <= 0n)) {
        clearTimeout(timer);
        resolve();
      }
    };
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const sagaId = headerString(m.headers, 'ce_sagaid') ?? '';
            // Counted by ce_id: the order service's outbox relay may append an event again after a
            // kill (same ce_id, dropped by consumers' inboxes); a second ce_id would be a duplicate.
            const id = headerString(m.headers, 'ce_id') ?? '?';
            if (!sagaId.startsWith(prefix) || seen.has(id)) continue;
            seen.add(id);
            bySaga.set(sagaId, [...(bySaga.get(sagaId) ?? []), headerString(m.headers, 'ce_type') ?? '?']);
          }
          // Transaction markers occupy offsets too: the batch's last offset says how far we are.
          remaining.set(`${batch.topic}/${batch.partition}`, BigInt(batch.highWatermark) - 1n - BigInt(batch.lastOffset()));
          check();
          return Promise.resolve();
        },
      })
      .catch(reject);
    check();
  });
  await consumer.disconnect();
  expect(bySaga.size).toBe(expectedSagas);
  return bySaga;
}

function expectEachEventOnce(bySaga: Map<string, string[]>): void {
  for (const [sagaId, types] of bySaga) {
    const dupes = types.filter((t, i) => types.indexOf(t) !== i);
    expect(dupes, `saga ${sagaId} has duplicated events`).toEqual([]);
    const ends = types.filter((t) => t === 'com.acme.orders.OrderCompleted' || t === 'com.acme.orders.OrderCancelled');
    expect(ends, `saga ${sagaId} must end exactly once`).toHaveLength(1);
  }
}

describe('npm run demo', () => {
  it('embedded default: 200 sagas end as the order service expected, by the tracker', async () => {
    const run = await runDemo(['--sagas', '200', '--rate', '100', '--exit-when-done']);
    expect(run.code).toBe(0);
    expect(run.summary.sagas).toBe(200);
    expect(run.summary.tracker).toEqual(run.summary.expected);
    expect(run.summary.expected['completed']).toBeGreaterThan(0);
    expect(run.summary.expected['compensated']).toBeGreaterThan(0);
    // stdout is for the summary alone: logs and progress go to stderr.
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('embedded: sagas whose carrier never answers end timed-out and compensated at the contract limit, and are counted', async () => {
    // The contract gives shipping one minute (onTimeout: abort): this run takes a little over that.
    const run = await runDemo(['--sagas', '40', '--rate', '40', '--carrier-silent-rate', '0.2', '--exit-when-done']);
    expect(run.code).toBe(0);
    expect(run.summary.expected['timed-out']).toBeGreaterThan(0);
    // The tracker counts a saga timed-out only once it is compensated (refund and release done) with
    // the order service's timeout as the reason; nothing is left stuck.
    expect(run.summary.tracker).toEqual(run.summary.expected);
    expect(run.summary.tracker['stuck']).toBe(0);
  }, 180_000);

  it('--kafka: services and tracker as processes on the real broker agree with the ground truth, silent carriers timed out; no event twice', async () => {
    kafkaBrokers(); // fail loudly without a broker
    const run = await runDemo(['--kafka', '--sagas', '100', '--rate', '25', '--carrier-silent-rate', '0.1', '--exit-when-done']);
    expect(run.code).toBe(0);
    expect(run.summary.expected['timed-out']).toBeGreaterThan(0);
    expect(run.summary.tracker).toEqual(run.summary.expected);
    // Every order the order service stored started exactly the sagas the tracker saw.
    expect(run.summary.orders).toBe(100);
    expect(run.stderr).toContain('4 service processes + tracker');
    const bySaga = await committedEventsBySaga(run.prefix, 100);
    expectEachEventOnce(bySaga);
    // A timed-out order was charged and reserved, then cancelled without a word from shipping:
    // refunded and released once each.
    const timedOut = [...bySaga.values()].filter(
      (types) =>
        types.includes('com.acme.inventory.InventoryReserved') &&
        !types.some((t) => t.startsWith('com.acme.shipping.')) &&
        types.includes('com.acme.orders.OrderCancelled'),
    );
    expect(timedOut).toHaveLength(run.summary.expected['timed-out'] ?? -1);
    for (const types of timedOut) {
      expect(types.filter((t) => t === 'com.acme.payments.PaymentRefunded')).toHaveLength(1);
      expect(types.filter((t) => t === 'com.acme.inventory.InventoryReleased')).toHaveLength(1);
    }
  }, 300_000);

  it('--kafka: every service killed with SIGKILL mid-run is restarted and the summary does not change', async () => {
    kafkaBrokers();
    const pids = new Map<string, number>();
    const killed: string[] = [];
    let killing = false;
    const run = await runDemo(['--kafka', '--sagas', '150', '--rate', '10', '--exit-when-done'], (_chunk, all) => {
      for (const m of all.matchAll(/\[supervisor\] (\S+) started \(pid (\d+)\)/g)) pids.set(m[1] as string, Number(m[2]));
      // Once orders flow, kill one service after another, each while sagas are in flight.
      if (!killing && /placed \d+\/150/.test(all)) {
        killing = true;
        SERVICES.forEach((name, i) => {
          setTimeout(
            () => {
              const pid = pids.get(name);
              if (pid !== undefined) {
                process.kill(pid, 'SIGKILL');
                killed.push(name);
              }
            },
            1500 + i * 2500,
          );
        });
      }
    });
    expect(killed).toEqual(SERVICES);
    for (const name of SERVICES) expect(run.stderr).toContain(`[supervisor] ${name} exited (SIGKILL)`);
    expect(run.code).toBe(0);
    expect(run.summary.sagas).toBe(150);
    expect(run.summary.orders).toBe(150);
    expect(run.summary.tracker).toEqual(run.summary.expected);
    expectEachEventOnce(await committedEventsBySaga(run.prefix, 150));
  }, 400_000);
});
