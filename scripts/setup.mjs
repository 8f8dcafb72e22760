#!/usr/bin/env node
// One set-up step shared by `npm test`, `npm run demo` and the kafka:* scripts, so that a fresh
// clone needs no manual install: dependencies when missing or stale, then an incremental build.
// Only Node built-ins here: this runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const say = (msg) => {
  if (!quiet) process.stderr.write(`[setup] ${msg}\n`);
};

function run(cmd, args) {
  const res = spawnSync(cmd, args, {
    cwd: root,
    stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
    shell: process.platform === 'win32',
  });
  if (res.error) {
    process.stderr.write(`[setup] could not run ${cmd}: ${res.error.message}\n`);
    process.exit(1);
  }
  if (res.status !== 0) {
    process.stderr.write(`[setup] '${cmd} ${args.join(' ')}' failed with exit code ${res.status}; fix the error above and run again.\n`);
    process.exit(res.status ?? 1);
  }
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(
    `[setup] Troupe needs Node.js 20.19 or newer; this is ${process.version}. Install a current Node.js LTS and run again.\n`,
  );
  process.exit(1);
}

// npm writes node_modules/.package-lock.json on every install: older than package-lock.json means stale.
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  say('installing dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// The tracker's browser test drives Debian's Chromium (downloaded browsers cannot run here).
if (process.argv.includes('--browser') && !existsSync('/usr/bin/chromium')) {
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    say('installing Chromium for the browser tests (apt-get install chromium chromium-driver)');
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium', 'chromium-driver']);
  } else {
    process.stderr.write(
      '[setup] the browser tests need Chromium at /usr/bin/chromium: install it (Debian: apt-get install chromium chromium-driver) and run again.\n',
    );
    process.exit(1);
  }
}

say('building (tsc -b)');
run(join(root, 'node_modules', '.bin', 'tsc'), ['-b']);
