import { TestingError } from './errors.js';

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/**
 * Parses `host:port[,host:port...]` (the `KAFKA_BROKERS` format). Throws INVALID_BROKERS with the
 * offending entry when one is malformed.
 */
export function parseBrokerList(value: string, source = 'KAFKA_BROKERS'): string[] {
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) {
    throw new TestingError(
      'INVALID_BROKERS',
      `${source} is empty; set it to host:port[,host:port...], e.g. 127.0.0.1:9092, or unset it to start a local broker.`,
    );
  }
  for (const entry of entries) {
    const match = HOST_PORT.exec(entry);
    const port = Number(match?.[1]);
    if (!match || port < 1 || port > 65_535) {
      throw new TestingError(
        'INVALID_BROKERS',
        `${source} entry '${entry}' is not host:port (e.g. 127.0.0.1:9092, [::1]:9092). ` +
          `Fix ${source}=${JSON.stringify(value)} or unset it to start a local broker. No scheme (PLAINTEXT://) and no spaces inside an entry.`,
      );
    }
  }
  return entries;
}

/**
 * The brokers the tests run against, from `KAFKA_BROKERS` (set by the integration global setup or
 * by you). Throws a loud KAFKA_BROKERS_MISSING when it is absent: tests never silently skip Kafka.
 */
export function kafkaBrokers(env: NodeJS.ProcessEnv = process.env): string[] {
  const value = env['KAFKA_BROKERS'];
  if (value === undefined || value.trim() === '') {
    throw new TestingError(
      'KAFKA_BROKERS_MISSING',
      'KAFKA_BROKERS is not set: this test needs a real Kafka broker. Run it through the integration project ' +
        '(`npx vitest run --project integration`, whose global setup starts one), or start one with `npm run kafka:start` ' +
        'and export the KAFKA_BROKERS line it prints.',
    );
  }
  return parseBrokerList(value);
}
