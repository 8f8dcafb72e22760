import { MemorySchemaRegistry } from '@troupe/schema-registry';
import { MemoryIdempotencyStore, MemoryTransport, Publisher, type Participant } from '@troupe/sdk';
import { pino } from 'pino';
import { driveOrders, type Summary } from './driver.js';
import { startEmbeddedTracker } from './embedded-tracker.js';
import { contracts, eventTypes } from './generated/events.js';
import type { DemoOptions } from './options.js';
import { SERVICE_NAMES, startService } from './services/index.js';
import { placeOrder } from './services/order-service.js';

/**
 * The embedded default: every service, the registry and the tracker in this one process on the
 * memory transport. Nothing to install but Node.
 */
export async function runEmbedded(demo: DemoOptions, signal: AbortSignal): Promise<Summary | undefined> {
  // Logs go to stderr: stdout carries only the summary line.
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' }, pino.destination(2));
  const transport = await MemoryTransport.create();
  const codec = await MemorySchemaRegistry.create();
  const sagaContracts = [contracts['order-fulfillment']];
  const participants: Participant[] = [];
  const tracker = await startEmbeddedTracker({ transport, codec, contracts: sagaContracts, events: eventTypes, port: demo.port });
  try {
    for (const name of SERVICE_NAMES) {
      // Each service has its own store, as it would have its own database.
      participants.push(
        await startService(name, {
          transport,
          codec,
          store: new MemoryIdempotencyStore(),
          logger: logger.child({ service: name }),
          partitions: demo.partitions,
        }),
      );
    }
    const publisher = await Publisher.create({
      transport,
      codec,
      source: 'order-service',
      contracts: sagaContracts,
      topics: { partitions: demo.partitions },
    });
    process.stderr.write(`tracker: ${tracker.url}/  (embedded: memory transport, in-process registry)\n`);
    return await driveOrders({
      demo,
      place: (order) => placeOrder(publisher, order),
      trackerUrl: tracker.url,
      signal,
      sagaIdPrefix: `order-${Date.now().toString(36)}-`,
    });
  } finally {
    for (const p of participants) await p.close();
    await tracker.close();
    await transport.close();
  }
}
