#!/usr/bin/env node
import { processIo } from '@troupe/schema-registry';
import { runSagaCli } from './saga-program.js';

process.exitCode = await runSagaCli(process.argv.slice(2), processIo());
