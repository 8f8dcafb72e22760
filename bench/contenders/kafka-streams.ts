// The Kafka Streams contender: bench/kafka-streams (Java, Maven) built on first use, one JVM per run,
// one stream thread, processing.guarantee exactly_once_v2 or at_least_once.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHEMA_IDS, stepTypes, type StepConfig } from '../lib/step.js';
import { startProcess, type Contender } from '../lib/proc.js';

const PROJECT = fileURLToPath(new URL('../kafka-streams/', import.meta.url));
const SOURCE = join(PROJECT, 'src/main/java/dev/troupe/bench/StepApp.java');
const JAR = join(PROJECT, 'target/kafka-streams-step-0.1.0.jar');
const CLASSPATH = join(PROJECT, 'target/classpath.txt');

/** `mvn package` unless the jar is newer than the source and the pom; returns the classpath. */
export function buildKafkaStreams(say: (m: string) => void): string {
  const stale =
    !existsSync(JAR) ||
    !existsSync(CLASSPATH) ||
    [SOURCE, join(PROJECT, 'pom.xml')].some((f) => statSync(f).mtimeMs > statSync(JAR).mtimeMs);
  if (stale) {
    say('building bench/kafka-streams with Maven (first run downloads kafka-streams from Maven Central)…');
    const res = spawnSync('mvn', ['-q', '-B', 'package', 'dependency:build-classpath'], {
      cwd: PROJECT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (res.error !== undefined || res.status !== 0)
      throw new Error(`mvn package in ${PROJECT} failed (${res.error?.message ?? `exit ${res.status}`}); it needs Maven and Java 17+`);
  }
  return `${JAR}:${readFileSync(CLASSPATH, 'utf8').trim()}`;
}

/**
 * Starts the app; it commits (offsets, and for EOS the transaction) every `commitIntervalMs`.
 * Both guarantees run at Kafka Streams' EOS default of 100 ms so the run's tail is comparable: at
 * its at-least-once default of 30 s the last commit would dominate a short run.
 */
export function startKafkaStreams(
  cfg: StepConfig & {
    readonly classpath: string;
    readonly guarantee: 'exactly_once_v2' | 'at_least_once';
    readonly commitIntervalMs: number;
  },
): Contender {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-bench-ks-'));
  const { In, Out } = stepTypes(cfg);
  writeFileSync(join(dir, 'in.avsc'), JSON.stringify(In.schema));
  writeFileSync(join(dir, 'out.avsc'), JSON.stringify(Out.schema));
  const args = [
    cfg.brokers.join(','),
    cfg.inTopic,
    cfg.outTopic,
    cfg.groupId,
    cfg.guarantee,
    String(SCHEMA_IDS.out),
    join(dir, 'in.avsc'),
    join(dir, 'out.avsc'),
    String(cfg.commitIntervalMs),
  ];
  return startProcess(
    'java',
    ['-Xmx512m', '-Djava.io.tmpdir=' + dir, '-cp', cfg.classpath, 'dev.troupe.bench.StepApp', ...args],
    process.env,
  );
}
