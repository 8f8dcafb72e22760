#!/usr/bin/env node
import { runSchemasCli } from './program.js';

const code = await runSchemasCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
process.exitCode = code;
