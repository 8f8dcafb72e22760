#!/usr/bin/env node
import { processIo, runMain } from '@troupe/schema-registry';
import { buildRegistryCli } from './registry-cli.js';

await runMain(buildRegistryCli(processIo()));
