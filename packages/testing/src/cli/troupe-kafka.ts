#!/usr/bin/env node
import { processIo, runMain } from '@troupe/schema-registry';
import { buildKafkaCli } from './kafka-cli.js';

await runMain(buildKafkaCli(processIo()));
