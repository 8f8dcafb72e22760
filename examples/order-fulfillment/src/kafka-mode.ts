import type { Summary } from './driver.js';
import type { DemoOptions } from './options.js';

export function runOnKafka(_demo: DemoOptions, _signal: AbortSignal): Promise<Summary | undefined> {
  return Promise.reject(new Error('Kafka mode is not built yet'));
}
