#!/usr/bin/env node
import { CommanderError } from 'commander';
import { runTrackerCli } from './program.js';

try {
  const tracker = await runTrackerCli(process.argv.slice(2));
  // stdout's last line names the URL, so scripts and tests can find a tracker started on port 0.
  process.stdout.write(`TRACKER_URL=${tracker.url}\n`);
  let closing = false;
  const stop = (signal: string): void => {
    if (closing) return;
    closing = true;
    process.stderr.write(`troupe-tracker: ${signal}, closing\n`);
    tracker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`troupe-tracker: close failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`troupe-tracker: ${(err as Error).message}\n`);
  process.exit(1);
}
