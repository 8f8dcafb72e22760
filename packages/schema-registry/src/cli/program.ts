import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { AvroSchema } from '../avro-schema.js';
import { avroTypeOf } from '../avro-types.js';
import { canonicalJson } from '../canonical-json.js';
import { formatProblem, inspectCatalog, loadCatalog } from '../catalog.js';
import { generateModule } from '../codegen.js';
import { contractChanges } from '../contract-versions.js';
import { checkCompatibility, COMPATIBILITY_LEVELS, formatCompatibility, type CompatibilityLevel } from '../compatibility.js';
import { SchemaRegistryError } from '../errors.js';
import { subjectOf } from '../event-type.js';
import { ConfluentSchemaRegistry } from '../confluent-registry.js';
import { planAcls, renderAclCommands } from '../acl/acl-plan.js';
import { CliExit, EXIT, createCli, packageVersion, registryOption, requireRegistry, runCli, usageError, type CliIo } from './cli-kit.js';

async function readSchemaFile(file: string): Promise<AvroSchema> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SchemaRegistryError('INVALID_SCHEMA', `${file}: cannot read (${(err as Error).message})`, { cause: err, path: file });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SchemaRegistryError('INVALID_SCHEMA', `${file}: is not valid JSON (${(err as Error).message})`, { cause: err, path: file });
  }
  avroTypeOf(json as AvroSchema, file);
  return json as AvroSchema;
}

/** The `troupe-schemas` command tree, writing to `io`. */
export function buildSchemasCli(io: CliIo): Command {
  const program = createCli({
    name: 'troupe-schemas',
    description: 'Validate, check, register and generate code for the Avro event schemas and saga contracts in schemas/.',
    version: packageVersion(import.meta.url),
    io,
  }).option('--schemas <dir>', 'schemas directory: <topic>/<Name>.avsc and sagas/*.saga.yaml', 'schemas');
  const schemasDir = (): string => program.opts<{ schemas: string }>().schemas;

  program
    .command('validate')
    .description('check every schema and saga contract; exit 1 listing each problem with file and path')
    .action(async () => {
      const { catalog, problems } = await inspectCatalog(schemasDir());
      for (const p of problems) io.err(formatProblem(p));
      if (problems.length > 0) {
        io.err(`${problems.length} problem${problems.length > 1 ? 's' : ''} found.`);
        throw new CliExit(EXIT.failed);
      }
      io.out(`ok: ${catalog.events.length} event types, ${catalog.contracts.length} saga contracts in ${schemasDir()}`);
    });

  program
    .command('compat')
    .description(
      'can <candidate> replace the registered versions (oldest first) at LEVEL? exit 0 yes, 1 no (reason on stdout), 2 bad input',
    )
    .addOption(new Option('--level <level>', 'compatibility level').choices(COMPATIBILITY_LEVELS).default('BACKWARD'))
    .argument('<schemas...>', 'registered versions oldest first, then the candidate (.avsc files)')
    .action(async (files: string[], opts: { level: CompatibilityLevel }) => {
      const schemas = await Promise.all(files.map(readSchemaFile));
      const candidate = schemas.pop() as AvroSchema;
      const result = checkCompatibility(opts.level, schemas, candidate);
      io.out(formatCompatibility(result));
      if (!result.compatible) throw new CliExit(EXIT.failed);
    });

  program
    .command('codegen')
    .description('generate TypeScript payload types, event descriptors and contracts')
    .requiredOption('--out <file>', 'the generated .ts module')
    .option('--check', 'do not write; exit 1 when <file> differs from what codegen would write')
    .option('--import-from <module>', 'module to import defineEventType from', '@troupe/schema-registry')
    .action(async (opts: { out: string; check?: boolean; importFrom: string }) => {
      const catalog = await loadCatalog(schemasDir());
      const label = relative(dirname(resolve(opts.out)), resolve(schemasDir())).replace(/\\/g, '/') || '.';
      const text = generateModule(catalog, { importFrom: opts.importFrom, sourceLabel: `${label}/` });
      if (opts.check === true) {
        const current = await readFile(opts.out, 'utf8').catch(() => undefined);
        if (current !== text) {
          io.err(
            `${opts.out} is stale${current === undefined ? ' (missing)' : ''}: run \`troupe-schemas codegen --out ${opts.out}\` and commit the result.`,
          );
          throw new CliExit(EXIT.failed);
        }
        io.out(`${opts.out} is up to date`);
        return;
      }
      await mkdir(dirname(opts.out), { recursive: true });
      await writeFile(opts.out, text);
      io.out(`wrote ${opts.out}: ${catalog.events.length} event types, ${catalog.contracts.length} contracts`);
    });

  program
    .command('check')
    .description(
      "check every schema against what is registered, at each subject's configured level, and (with --contracts-baseline) every saga contract against the deployed ones; exit 1 when one is incompatible",
    )
    .addOption(registryOption())
    .option(
      '--contracts-baseline <dir>',
      'schemas directory of what is deployed (e.g. a checkout of the last release): a contract version may not change, the newest may not go down',
    )
    .action(async (opts: { contractsBaseline?: string }, command: Command) => {
      const catalog = await loadCatalog(schemasDir());
      let bad = 0;
      if (opts.contractsBaseline !== undefined) {
        const baseline = await loadCatalog(opts.contractsBaseline);
        for (const c of contractChanges(baseline.contracts, catalog.contracts)) {
          if (c.level === 'incompatible') bad++;
          io.out(`contract ${c.saga} v${c.version}: ${c.level === 'incompatible' ? 'INCOMPATIBLE: ' : ''}${c.message}`);
        }
      }
      const reg = await ConfluentSchemaRegistry.create({ url: requireRegistry(command) });
      for (const e of catalog.events) {
        const subject = subjectOf(e);
        const versions = await reg.versions(subject);
        const same = versions.find((v) => canonicalJson(v.schema) === canonicalJson(e.schema));
        if (versions.length === 0) {
          io.out(`${subject}: new subject, would be registered as version 1`);
        } else if (same !== undefined) {
          io.out(`${subject}: registered as version ${same.version} (id ${same.id})`);
        } else {
          const level = await reg.compatibilityLevel(subject);
          const result = checkCompatibility(
            level,
            versions.map((v) => v.schema),
            e.schema,
          );
          // The registry decides on register; show its verdict too, and flag any disagreement.
          const server = await reg.testCompatibility(subject, e.schema);
          const serverText = `registry says ${server.compatible ? 'compatible' : 'incompatible'}${server.messages.length > 0 ? ` (${server.messages.join('; ')})` : ''}`;
          const disagree =
            server.compatible !== result.compatible ? ' — troupe-schemas and the registry disagree: the registry decides on register' : '';
          if (result.compatible && server.compatible) {
            io.out(`${subject}: ${formatCompatibility(result)}, ${serverText}, would be registered as version ${versions.length + 1}`);
          } else {
            bad++;
            io.out(`${subject} (${e.file}): ${formatCompatibility(result)}\n  ${serverText}${disagree}`);
          }
        }
      }
      await reg.close();
      if (bad > 0) {
        io.out(`${bad} schema${bad > 1 ? 's' : ''} or contract${bad > 1 ? 's' : ''} incompatible.`);
        throw new CliExit(EXIT.failed);
      }
    });

  program
    .command('register')
    .description('register every schema under <topic>-<fullname>; exit 1 when the registry rejects one')
    .addOption(registryOption())
    .action(async (_opts: unknown, command: Command) => {
      const catalog = await loadCatalog(schemasDir());
      const reg = await ConfluentSchemaRegistry.create({ url: requireRegistry(command) });
      let bad = 0;
      for (const e of catalog.events) {
        const subject = subjectOf(e);
        try {
          io.out(`${subject}: id ${await reg.register(subject, e.schema)}`);
        } catch (err) {
          if (!(err instanceof SchemaRegistryError) || err.code === 'REGISTRY_UNAVAILABLE') throw err;
          bad++;
          io.out(`${subject} (${e.file}): ${err.message}`);
        }
      }
      await reg.close();
      if (bad > 0) throw new CliExit(EXIT.failed);
    });

  program
    .command('acl')
    .description(
      'print the least Kafka ACLs each participant of the contracts, the publisher and the tracker need, as kafka-acls.sh commands or JSON',
    )
    .addOption(new Option('--format <format>', 'output format').choices(['commands', 'json']).default('commands'))
    .option('--no-create', 'topics are created beforehand by the platform: grant no CREATE')
    .option('--retry-topic <participant...>', 'participants that run with retryTopic enabled')
    .option(
      '--timers <participant...>',
      'participants that run with timers the contracts do not show (ctx.schedule; an initiator answering troupe-saga abort for a contract without onTimeout)',
    )
    .option('--operator <name>', 'principal name of the operators who run troupe-saga abort', 'troupe-operator')
    .option('--reads <participant=topic,...>', 'extra topics a participant reads through on(...) handlers (repeatable)', collect, [])
    .option('--publisher <name>', 'principal name of the publisher that starts sagas', 'publisher')
    .option('--tracker <name>', 'principal name of the tracker', 'troupe-tracker')
    .action(
      async (opts: {
        format: 'commands' | 'json';
        create: boolean;
        retryTopic?: string[];
        timers?: string[];
        operator: string;
        reads: string[];
        publisher: string;
        tracker: string;
      }) => {
        const catalog = await loadCatalog(schemasDir());
        const extraReads: Record<string, string[]> = {};
        for (const spec of opts.reads) {
          const [who, topics] = spec.split('=', 2);
          if (!who || !topics) {
            usageError(program, `--reads ${spec}: expected <participant>=<topic>[,<topic>...], e.g. --reads inventory-service=orders`);
          }
          extraReads[who] = [...(extraReads[who] ?? []), ...topics.split(',').filter((t) => t !== '')];
        }
        const plans = planAcls(
          catalog.contracts.map((c) => c.contract),
          catalog.events,
          {
            autoCreate: opts.create,
            retryTopic: opts.retryTopic ?? [],
            timers: opts.timers ?? [],
            extraReads,
            publisher: opts.publisher,
            tracker: opts.tracker,
            operator: opts.operator,
          },
        );
        if (opts.format === 'json') io.out(JSON.stringify(plans, null, 2));
        else for (const line of renderAclCommands(plans)) io.out(line);
      },
    );

  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Runs `troupe-schemas` with `argv` (without node and script) and returns the exit code. */
export async function runSchemasCli(argv: readonly string[], io: CliIo): Promise<number> {
  return runCli(buildSchemasCli(io), argv, {
    // A registry that is down or refuses is a failed operation; a bad schema file is bad input.
    exitCodeOf: (err) =>
      err instanceof SchemaRegistryError
        ? err.code === 'REGISTRY_UNAVAILABLE' || err.code === 'REGISTRY_ERROR'
          ? EXIT.failed
          : EXIT.badInput
        : undefined,
  });
}
