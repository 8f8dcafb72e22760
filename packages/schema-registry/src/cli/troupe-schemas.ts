#!/usr/bin/env node
import { processIo } from './cli-kit.js';
import { runSchemasCli } from './program.js';

process.exitCode = await runSchemasCli(process.argv.slice(2), processIo());
