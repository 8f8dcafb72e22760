import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import type { AvroSchema } from '../avro-schema.js';
import { avroTypeOf } from '../avro-types.js';
import { canonicalJson } from '../canonical-json.js';
import { formatProblem, inspectCatalog, loadCatalog } from '../catalog.js';
import { generateModule } from '../codegen.js';
import { checkCompatibility, COMPATIBILITY_LEVELS, formatCompatibility, type CompatibilityLevel } from '../compatibility.js';
import { SchemaRegistryError } from '../errors.js';
import { subjectOf } from '../event-type.js';
import { ConfluentSchemaRegistry } from '../confluent-registry.js';
import { planAcls, renderAclCommands } from '../acl/acl-plan.js';

/** Where the CLI writes; tests pass buffers, the bin passes the process streams. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** Exit codes: 0 ok, 1 the check failed (incompatible, invalid, stale), 2 the input or invocation was bad. */
export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const;

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

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

function registryUrl(opt: string | undefined): string {
  const url = opt ?? process.env['SCHEMA_REGISTRY_URL'];
  if (url === undefined || url === '') {
    throw new SchemaRegistryError('REGISTRY_ERROR', 'no registry given: pass --registry URL or set SCHEMA_REGISTRY_URL (npm run registry:start prints one).');
  }
  return url;
}

function build(io: CliIo): Command {
  const program = new Command('troupe-schemas')
    .description('Validate, check, register and generate code for the Avro event schemas and saga contracts in schemas/.')
    .option('--schemas <dir>', 'schemas directory: <topic>/<Name>.avsc and sagas/*.saga.yaml', 'schemas')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  const schemasDir = (): string => program.opts<{ schemas: string }>().schemas;

  program
    .command('validate')
    .description('check every schema and saga contract; exit 1 listing each problem with file and path')
    .action(async () => {
      const { catalog, problems } = await inspectCatalog(schemasDir());
      for (const p of problems) io.err(formatProblem(p));
      if (problems.length > 0) {
        io.err(`${problems.length} problem${problems.length > 1 ? 's' : ''} found.`);
        throw new Exit(EXIT.failed);
      }
      io.out(`ok: ${catalog.events.length} event types, ${catalog.contracts.length} saga contracts in ${schemasDir()}`);
    });

  program
    .command('compat')
    .description('can <candidate> replace the registered versions (oldest first) at LEVEL? exit 0 yes, 1 no (reason on stdout), 2 bad input')
    .addOption(new Option('--level <level>', 'compatibility level').choices(COMPATIBILITY_LEVELS).default('BACKWARD'))
    .argument('<schemas...>', 'registered versions oldest first, then the candidate (.avsc files)')
    .action(async (files: string[], opts: { level: CompatibilityLevel }) => {
      const schemas = await Promise.all(files.map(readSchemaFile));
      const candidate = schemas.pop() as AvroSchema;
      const result = checkCompatibility(opts.level, schemas, candidate);
      io.out(formatCompatibility(result));
      if (!result.compatible) throw new Exit(EXIT.failed);
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
          io.err(`${opts.out} is stale${current === undefined ? ' (missing)' : ''}: run \`troupe-schemas codegen --out ${opts.out}\` and commit the result.`);
          throw new Exit(EXIT.failed);
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
    .description("check every schema against what is registered, at each subject's configured level; exit 1 when one is incompatible")
    .option('--registry <url>', 'Confluent-compatible registry URL (default: $SCHEMA_REGISTRY_URL)')
    .action(async (opts: { registry?: string }) => {
      const catalog = await loadCatalog(schemasDir());
      const reg = await ConfluentSchemaRegistry.create({ url: registryUrl(opts.registry) });
      let bad = 0;
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
          const result = checkCompatibility(level, versions.map((v) => v.schema), e.schema);
          // The registry decides on register; show its verdict too, and flag any disagreement.
          const server = await reg.testCompatibility(subject, e.schema);
          const serverText = `registry says ${server.compatible ? 'compatible' : 'incompatible'}${server.messages.length > 0 ? ` (${server.messages.join('; ')})` : ''}`;
          const disagree = server.compatible !== result.compatible ? ' — troupe-schemas and the registry disagree: the registry decides on register' : '';
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
        io.out(`${bad} schema${bad > 1 ? 's' : ''} incompatible with the registry.`);
        throw new Exit(EXIT.failed);
      }
    });

  program
    .command('register')
    .description('register every schema under <topic>-<fullname>; exit 1 when the registry rejects one')
    .option('--registry <url>', 'Confluent-compatible registry URL (default: $SCHEMA_REGISTRY_URL)')
    .action(async (opts: { registry?: string }) => {
      const catalog = await loadCatalog(schemasDir());
      const reg = await ConfluentSchemaRegistry.create({ url: registryUrl(opts.registry) });
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
      if (bad > 0) throw new Exit(EXIT.failed);
    });

  program
    .command('acl')
    .description(
      'print the least Kafka ACLs each participant of the contracts, the publisher and the tracker need, as kafka-acls.sh commands or JSON',
    )
    .addOption(new Option('--format <format>', 'output format').choices(['commands', 'json']).default('commands'))
    .option('--no-create', 'topics are created beforehand by the platform: grant no CREATE')
    .option('--retry-topic <participant...>', 'participants that run with retryTopic enabled')
    .option('--reads <participant=topic,...>', 'extra topics a participant reads through on(...) handlers (repeatable)', collect, [])
    .option('--publisher <name>', 'principal name of the publisher that starts sagas', 'publisher')
    .option('--tracker <name>', 'principal name of the tracker', 'troupe-tracker')
    .action(async (opts: { format: 'commands' | 'json'; create: boolean; retryTopic?: string[]; reads: string[]; publisher: string; tracker: string }) => {
      const catalog = await loadCatalog(schemasDir());
      const extraReads: Record<string, string[]> = {};
      for (const spec of opts.reads) {
        const [who, topics] = spec.split('=', 2);
        if (!who || !topics) {
          io.err(`--reads ${spec}: expected <participant>=<topic>[,<topic>...], e.g. --reads inventory-service=orders`);
          throw new Exit(EXIT.badInput);
        }
        extraReads[who] = [...(extraReads[who] ?? []), ...topics.split(',').filter((t) => t !== '')];
      }
      const plans = planAcls(
        catalog.contracts.map((c) => c.contract),
        catalog.events,
        { autoCreate: opts.create, retryTopic: opts.retryTopic ?? [], extraReads, publisher: opts.publisher, tracker: opts.tracker },
      );
      if (opts.format === 'json') io.out(JSON.stringify(plans, null, 2));
      else for (const line of renderAclCommands(plans)) io.out(line);
    });

  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Runs `troupe-schemas` with `argv` (without node and script) and returns the exit code. */
export async function runSchemasCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = build(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof Exit) return err.code;
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? EXIT.ok : EXIT.badInput;
    }
    if (err instanceof SchemaRegistryError) {
      io.err(err.message);
      return err.code === 'REGISTRY_UNAVAILABLE' || err.code === 'REGISTRY_ERROR' ? EXIT.failed : EXIT.badInput;
    }
    throw err;
  }
}
