// What `npm run bench` is asked to do: its command line and the sizes each mode runs at.
import { parseArgs } from 'node:util';

export const STEP_CONTENDERS = [
  'raw-alo',
  'raw-tx',
  'raw-tx-100ms',
  'troupe-alo',
  'troupe-eos',
  'troupe-pg',
  'troupe-alo-noinbox',
  'troupe-eos-noinbox',
  'nest',
  'kstreams-alo',
  'kstreams-eos',
] as const;
/** Troupe built from other code (BENCH_SDK_BASELINE=path/to/packages/sdk/dist), run next to the current build. */
export const BASELINE_CONTENDERS = ['troupe-alo-baseline', 'troupe-eos-baseline'] as const;
export const TRACKER_CONTENDERS = ['tracker-raw', 'tracker-memory', 'tracker-postgres'] as const;
export const GROUPS = ['step', 'streams200k', 'tracker', 'saga'] as const;
export type Group = (typeof GROUPS)[number];

export interface BenchOptions {
  readonly quick: boolean;
  readonly rounds: number;
  readonly groups: readonly Group[];
  /** Step contenders to run (default all). */
  readonly contenders: readonly string[];
  /** --contenders was given. */
  readonly contendersChosen: boolean;
  /** Events per step run. */
  readonly events: number;
  /** Events per run for the Kafka Streams comparison (0 = skip). */
  readonly streamsEvents: number;
  readonly partitions: number;
  readonly batch: number;
  readonly trackerSagas: number;
  /** Order sagas offered at saturation, and at what rate. */
  readonly sagaSaturation: { readonly sagas: number; readonly rate: number };
  /** Order sagas at a fixed offered load, for latency percentiles. */
  readonly sagaFixed: { readonly sagas: number; readonly rate: number };
  readonly sagaRounds: number;
  /** Write --cpu-prof profiles of the Node step contenders here. */
  readonly profileDir: string | undefined;
  readonly resultsDir: string;
}

export const USAGE = `usage: npm run bench [-- options]
  --quick               small sizes, every contender, under 5 minutes
  --rounds N            interleaved rounds (default 3)
  --only LIST           groups to run: ${GROUPS.join(',')} (default all)
  --contenders LIST     step contenders: ${STEP_CONTENDERS.join(',')}
                        (and ${BASELINE_CONTENDERS.join(',')}, added by default when BENCH_SDK_BASELINE is set)
  --events N            events per step run (default 50000; quick 5000)
  --streams-events N    events per run of the Kafka Streams comparison (default 200000; quick 0 = skip)
  --partitions N        input partitions (default 6)
  --profile DIR         node --cpu-prof for the Node step contenders, profiles in DIR
  --results DIR         where the result JSON goes (default bench/results)
env: KAFKA_BROKERS (use this broker instead of starting one), SCHEMA_REGISTRY_URL,
     BENCH_SDK_BASELINE (a built packages/sdk/dist of other code, e.g. main's, to measure a change against),
     DATABASE_URL (PostgreSQL for the tracker's store and the demo; default postgres://postgres@127.0.0.1:5432/test)`;

const positiveInt = (name: string, v: string | undefined, fallback: number, min = 1): number => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} expects an integer >= ${min}, got '${v}'\n${USAGE}`);
  return n;
};

function list<T extends string>(
  name: string,
  v: string | undefined,
  allowed: readonly T[],
  fallback: readonly T[] = allowed,
): readonly T[] {
  if (v === undefined) return fallback;
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
  if (bad.length > 0 || items.length === 0)
    throw new Error(`--${name}: unknown '${bad.join(',') || v}'; choose from ${allowed.join(',')}\n${USAGE}`);
  return items as T[];
}

export function parseBenchArgs(argv: readonly string[], defaultResultsDir: string): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      only: { type: 'string' },
      contenders: { type: 'string' },
      events: { type: 'string' },
      'streams-events': { type: 'string' },
      partitions: { type: 'string' },
      profile: { type: 'string' },
      results: { type: 'string' },
    },
  });
  const quick = values.quick === true;
  return {
    quick,
    rounds: positiveInt('rounds', values.rounds, 3),
    groups: list('only', values.only, GROUPS),
    contenders: list('contenders', values.contenders, [...STEP_CONTENDERS, ...BASELINE_CONTENDERS], STEP_CONTENDERS),
    contendersChosen: values.contenders !== undefined,
    events: positiveInt('events', values.events, quick ? 5_000 : 50_000),
    streamsEvents: positiveInt('streams-events', values['streams-events'], quick ? 0 : 200_000, 0),
    partitions: positiveInt('partitions', values.partitions, 6),
    batch: 200,
    trackerSagas: quick ? 2_000 : 10_000,
    sagaSaturation: quick ? { sagas: 300, rate: 1000 } : { sagas: 2_000, rate: 1000 },
    sagaFixed: quick ? { sagas: 400, rate: 50 } : { sagas: 1_500, rate: 50 },
    sagaRounds: quick ? 1 : 3,
    profileDir: values.profile,
    resultsDir: values.results ?? defaultResultsDir,
  };
}
