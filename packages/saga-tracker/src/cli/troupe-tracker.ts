#!/usr/bin/env node
import { processIo } from '@troupe/schema-registry';
import { runTrackerCli } from './program.js';

const io = processIo();
const { code, tracker } = await runTrackerCli(process.argv.slice(2), io);
if (tracker === undefined) {
  process.exitCode = code;
} else {
  // stdout's last line names the URL, so scripts and tests can find a tracker started on port 0.
  io.out(`TRACKER_URL=${tracker.url}`);
  let closing = false;
  const stop = (signal: string): void => {
    if (closing) return;
    closing = true;
    io.err(`troupe-tracker: ${signal}, closing`);
    tracker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        io.err(`troupe-tracker: close failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
