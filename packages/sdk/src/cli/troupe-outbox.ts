#!/usr/bin/env node
import { processIo } from '@troupe/schema-registry';
import { runOutboxCli } from './outbox-program.js';

process.exitCode = await runOutboxCli(process.argv.slice(2), processIo());
