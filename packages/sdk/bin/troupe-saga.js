#!/usr/bin/env node
// The file npm links as `troupe-saga`. It is committed because npm links bins when it installs, before
// anything is built: it runs the compiled CLI, or says how to build it when dist/ is missing.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli/troupe-saga.js', import.meta.url);
if (existsSync(cli)) {
  await import(cli.href);
} else {
  process.stderr.write(
    'troupe-saga: not built yet (dist/cli/troupe-saga.js is missing). In a Troupe checkout run `npm run build` (or `node scripts/setup.mjs`, which installs and builds), then try again.\n',
  );
  process.exitCode = 1;
}
