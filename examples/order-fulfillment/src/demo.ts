#!/usr/bin/env node
/**
 * `npm run demo`: a live order-fulfillment saga demo with the tracker page. Embedded by default;
 * `--kafka` runs each service and the tracker as its own process on Apache Kafka.
 */
import type { Summary } from './driver.js';
import { runEmbedded } from './embedded.js';
import { runOnKafka } from './kafka-mode.js';
import { parseDemoOptions } from './options.js';

const demo = parseDemoOptions(process.argv.slice(2));
const abort = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: stopping…\n`);
    abort.abort();
  });
}

try {
  const summary: Summary | undefined = demo.kafka ? await runOnKafka(demo, abort.signal) : await runEmbedded(demo, abort.signal);
  if (summary !== undefined) {
    const sawSagas = Object.values(summary.tracker).reduce((n, c) => n + c, 0);
    const ordersAgree = summary.orders === undefined || summary.orders === sawSagas;
    const same = JSON.stringify(summary.expected) === JSON.stringify(summary.tracker) && ordersAgree;
    if (!ordersAgree) process.stderr.write(`the order table has ${summary.orders} orders but the tracker saw ${sawSagas} sagas\n`);
    else if (!same) process.stderr.write('the tracker does not agree with the ground truth\n');
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.exitCode = same ? 0 : 1;
  }
} catch (err) {
  // The message says what to do; the stack is for us (DEBUG=1).
  const detail = err instanceof Error ? (process.env['DEBUG'] ? (err.stack ?? err.message) : err.message) : String(err);
  process.stderr.write(`demo failed: ${detail}\n`);
  process.exitCode = 1;
}
