#!/usr/bin/env node
/**
 * `npm run soak -- --minutes N [--rate R] [--brokers host:port,...] [--seed S]`: the fault suite's
 * faults, mixed at random, against the order-fulfillment services for N minutes — on a local
 * 3-broker cluster, or on your own cluster with --brokers (then only the faults that need no
 * control of the brokers). Prints a progress line each minute and, last, one JSON object with what
 * was injected and what was verified. Exit code 0 = verified, 1 = a problem was found, 2 = usage.
 */
import { Command, InvalidArgumentError } from 'commander';
import { runFault } from './driver/fault-run.js';
import { mixedFaults } from './injectors/mixed.js';

const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
};

const program = new Command('soak')
  .description('Runs the fault suite mixed at random against the order-fulfillment services, then verifies every saga.')
  .option('--minutes <n>', 'how long orders are placed', positive, 10)
  .option('--rate <r>', 'orders per second', positive, 5)
  .option('--seed <n>', 'seed of orders and faults', (v) => Math.trunc(positive(v)), 4711)
  .option('--mean-fault-interval <s>', 'mean seconds between faults', positive, 20)
  .option('--brokers <list>', "your own cluster's bootstrap servers (default: a local 3-broker cluster)")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
program.parse(process.argv.slice(2), { from: 'user' });
const o = program.opts<{ minutes: number; rate: number; seed: number; meanFaultInterval: number; brokers?: string }>();
const given = o.brokers
  ?.split(',')
  .map((b) => b.trim())
  .filter((b) => b !== '');

const sagas = Math.max(1, Math.round(o.minutes * 60 * o.rate));
process.stderr.write(`soak: ${sagas} orders over ${o.minutes} min at ${o.rate}/s, a fault every ~${o.meanFaultInterval} s\n`);
const report = await runFault({
  fault: 'soak',
  sagas,
  rate: o.rate,
  seed: o.seed,
  kafka: given !== undefined && given.length > 0 ? { given } : { brokers: 3 },
  registry: given !== undefined ? 'shared' : 'own',
  trackerStore: 'postgres',
  progressEveryMs: 60_000,
  settleTimeoutMs: 600_000,
  inject: (ctx) => mixedFaults(ctx, { meanIntervalMs: o.meanFaultInterval * 1000 }),
});
process.exitCode = report.ok ? 0 : 1;
