import { Command, InvalidArgumentError } from 'commander';
import { KAFKA_CONNECTION_OPTIONS, REGISTRY_CONNECTION_OPTIONS, type KafkaConnectionKey, type RegistryConnectionKey } from '@troupe/core';
import { addConnectionOptions } from '@troupe/schema-registry';
import { DEFAULT_RATES, validateRates, type FailureRates } from './world.js';

export interface DemoOptions {
  /** Orders to place; undefined = keep placing until interrupted. */
  readonly sagas: number | undefined;
  /** Orders per second. */
  readonly rate: number;
  readonly rates: FailureRates;
  readonly seed: number;
  readonly port: number;
  readonly exitWhenDone: boolean;
  readonly kafka: boolean;
  readonly partitions: number;
  /** Kafka mode: restart a service that dies. */
  readonly supervise: boolean;
  /** Kafka mode: services and tracker run elsewhere (e.g. docker compose); only place orders and watch this tracker. */
  readonly trackerUrl: string | undefined;
  /** Kafka mode with `trackerUrl`: the order service's HTTP API the shop places orders through. */
  readonly ordersUrl: string | undefined;
  /** Kafka mode: brokers, SASL/TLS and registry settings as given (flags or their environment variables). */
  readonly connection: Partial<Record<KafkaConnectionKey | RegistryConnectionKey, string | boolean>>;
}

const int =
  (min: number) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
};
const fraction = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
};

export function parseDemoOptions(argv: readonly string[]): DemoOptions {
  const program = new Command('demo')
    .description('A live order-fulfillment saga demo: four services choreograph orders while the tracker watches.')
    .option('--sagas <n>', 'orders to place (default: keep going until Ctrl-C)', int(1))
    .option('--rate <r>', 'orders per second', positive, 20)
    .option('--card-expired-rate <p>', 'share of orders whose card is declined (payment fails)', fraction, DEFAULT_RATES.cardExpired)
    .option(
      '--sold-out-rate <p>',
      'share of orders with a sold-out item (inventory fails, payment refunds)',
      fraction,
      DEFAULT_RATES.soldOut,
    )
    .option(
      '--undeliverable-rate <p>',
      'share of orders no carrier delivers (shipping fails, both compensate)',
      fraction,
      DEFAULT_RATES.undeliverable,
    )
    .option(
      '--carrier-silent-rate <p>',
      "share of orders whose carrier never answers (cancelled and compensated at the contract's 1m: timed-out)",
      fraction,
      DEFAULT_RATES.carrierSilent,
    )
    .option('--seed <n>', 'seed of the order generator', int(0), 4711)
    .option('--port <n>', 'tracker page port (0 = any free port)', int(0), 8080)
    .option('--partitions <n>', 'partitions per saga topic', int(1), 3)
    .option('--exit-when-done', 'wait until every saga has ended, print a JSON summary as the last line and exit', false)
    .option('--kafka', 'run on Apache Kafka: each service and the tracker in its own process', false)
    .option('--no-supervise', 'Kafka mode: do not restart a service that dies')
    .option(
      '--tracker-url <url>',
      'Kafka mode: the services and tracker already run (e.g. docker compose); only place orders and watch this tracker',
    )
    .option(
      '--orders-url <url>',
      "Kafka mode with --tracker-url: the order service's HTTP API (POST /orders), e.g. http://order-service:8081",
    )
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  addConnectionOptions(program, [...KAFKA_CONNECTION_OPTIONS, ...REGISTRY_CONNECTION_OPTIONS]);
  program.parse([...argv], { from: 'user' });
  const o = program.opts<
    Partial<Record<KafkaConnectionKey | RegistryConnectionKey, string | boolean>> & {
      sagas?: number;
      rate: number;
      cardExpiredRate: number;
      soldOutRate: number;
      undeliverableRate: number;
      carrierSilentRate: number;
      seed: number;
      port: number;
      partitions: number;
      exitWhenDone: boolean;
      kafka: boolean;
      supervise: boolean;
      trackerUrl?: string;
      ordersUrl?: string;
    }
  >();
  const rates: FailureRates = {
    cardExpired: o.cardExpiredRate,
    soldOut: o.soldOutRate,
    undeliverable: o.undeliverableRate,
    carrierSilent: o.carrierSilentRate,
  };
  try {
    validateRates(rates);
  } catch (err) {
    program.error(`error: ${(err as Error).message}`, { exitCode: 2 });
  }
  if (o.trackerUrl !== undefined && !o.kafka) program.error('error: --tracker-url needs --kafka', { exitCode: 2 });
  if ((o.trackerUrl === undefined) !== (o.ordersUrl === undefined)) {
    program.error(
      "error: --tracker-url and --orders-url go together (the tracker and the order service's API of services that run elsewhere)",
      {
        exitCode: 2,
      },
    );
  }
  if (o.exitWhenDone && o.sagas === undefined) program.error('error: --exit-when-done needs --sagas N', { exitCode: 2 });
  return {
    sagas: o.sagas,
    rate: o.rate,
    rates,
    seed: o.seed,
    port: o.port,
    exitWhenDone: o.exitWhenDone,
    kafka: o.kafka,
    partitions: o.partitions,
    supervise: o.supervise,
    trackerUrl: o.trackerUrl?.replace(/\/+$/, ''),
    ordersUrl: o.ordersUrl?.replace(/\/+$/, ''),
    connection: Object.fromEntries(
      [...KAFKA_CONNECTION_OPTIONS, ...REGISTRY_CONNECTION_OPTIONS].flatMap((s): [string, string | boolean][] => {
        const v = o[s.key];
        return v === undefined ? [] : [[s.key, v]];
      }),
    ),
  };
}
