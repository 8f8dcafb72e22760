#!/usr/bin/env node
/**
 * Issue 16, item 5 under faults: the demo services in Kafka mode with the ORDER service SIGKILLed 3
 * times during 300 sagas, 5 runs (seeds 1..5). The order service reads payments, inventory and
 * shipping; after each restart its worker merges them in timestamp order, so no saga may end
 * `failed` because it saw a later step's event first, and every run must equal its ground truth.
 * Too long for the suite (5 × ~1–2 min with four service processes and the tracker):
 *
 *   source /work/shared-env.sh   # or any KAFKA_BROKERS / SCHEMA_REGISTRY_URL / DATABASE_URL
 *   node --import tsx test/faults/order-service-kills.ts [--runs 5] [--sagas 300] [--rate 10]
 *
 * Prints one line per run and, last, one JSON object; exit code 0 when every run verified.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaBrokers } from '@troupe/testing';
import { injectedCount, runFault, type FaultContext } from './driver/fault-run.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a number > 0`);
  return v;
};
const runs = arg('runs', 5);
const sagas = arg('sagas', 300);
const rate = arg('rate', 10);

/** Kills the order service when a quarter, half and three quarters of the orders are placed. */
async function killOrderServiceThrice(ctx: FaultContext): Promise<void> {
  for (const share of [0.25, 0.5, 0.75]) {
    while (!ctx.placingDone.aborted && ctx.placed() < sagas * share) await sleep(100);
    if (ctx.placingDone.aborted) return;
    if (ctx.fleet.kill('order-service')) {
      ctx.count('sigkill', 'order-service');
      ctx.log(`SIGKILL order-service after ${ctx.placed()} orders`);
    }
  }
}

const results: { run: number; ok: boolean; kills: number; outcomes: unknown; problems: readonly string[] }[] = [];
for (let run = 1; run <= runs; run++) {
  const report = await runFault({
    fault: `order-service-kills-${run}`,
    sagas,
    rate,
    seed: run,
    kafka: { given: kafkaBrokers() },
    inject: killOrderServiceThrice,
    log: () => undefined,
  });
  const kills = injectedCount(report.injected, 'sigkill');
  const outcomes = report.verified.outcomes;
  results.push({ run, ok: report.ok && kills === 3, kills, outcomes, problems: report.problems });
  process.stderr.write(
    `run ${run}: ${report.ok ? 'verified' : 'PROBLEMS'}, order service killed ${kills}×, outcomes ${JSON.stringify(outcomes)}` +
      `${report.problems.length > 0 ? `\n  ${report.problems.join('\n  ')}` : ''} (log: ${report.logFile})\n`,
  );
}
const ok = results.every((r) => r.ok);
process.stdout.write(`${JSON.stringify({ runs, sagas, rate, ok, results })}\n`);
process.exitCode = ok ? 0 : 1;
