#!/usr/bin/env node
import { processIo } from '@troupe/schema-registry';
import { runDlqCli } from './dlq-program.js';

process.exitCode = await runDlqCli(process.argv.slice(2), processIo());
