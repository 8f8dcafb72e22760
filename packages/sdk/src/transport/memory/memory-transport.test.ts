import { MemoryTransport } from './memory-transport.js';
import { transportContract } from '../transport-contract.fixture.js';

transportContract('memory', async () => {
  const transport = await MemoryTransport.create({ redeliveryDelayMs: 1 });
  return {
    transport,
    readCommitted: async (topic, atLeast) => {
      for (;;) {
        const records = transport.records(topic);
        if (records.length >= atLeast) return records;
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    close: () => transport.close(),
  };
});
