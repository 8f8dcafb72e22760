// Placeholder until the local Kafka launcher lands (packages/testing): integration tests need KAFKA_BROKERS.
export default function setup(): void {
  if (!process.env['KAFKA_BROKERS']) {
    throw new Error('KAFKA_BROKERS is not set and the local broker launcher is not built yet.');
  }
}
