import { defineEventType } from '@troupe/schema-registry';
import { describe, expect, it } from 'vitest';
import type { PostgresOutbox } from '../postgres/postgres-outbox.js';
import { on } from './handlers.js';
import { normalizeOptions } from './participant-options.js';

const Ev = defineEventType<{ id: string }>({
  name: 'test.options.Ev',
  topic: 'options-ev',
  schema: { type: 'record', name: 'Ev', namespace: 'test.options', fields: [{ name: 'id', type: 'string' }] },
});

describe('participant options', () => {
  it('refuses timers together with an outbox: timer records must commit in the Kafka transaction of their partition', () => {
    // normalizeOptions only reads whether an outbox is given; it never calls it.
    const outbox = {} as PostgresOutbox;
    expect(() =>
      normalizeOptions({ name: 'svc', brokers: ['127.0.0.1:9092'], handlers: [on(Ev, () => Promise.resolve())], outbox, timers: {} }),
    ).toThrow(/timers .* cannot be combined with outbox yet; run them in a Kafka-transactional participant/);
    expect(() =>
      normalizeOptions({ name: 'svc', brokers: ['127.0.0.1:9092'], handlers: [on(Ev, () => Promise.resolve())], outbox }),
    ).not.toThrow();
  });
});
