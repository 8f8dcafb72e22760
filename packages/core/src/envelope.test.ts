import { describe, expect, it } from 'vitest';
import { EnvelopeError, parseEnvelope, toHeaders, type EventEnvelope } from './envelope.js';

const env: EventEnvelope = {
  id: 'e-1',
  source: 'payment-service',
  type: 'com.acme.payments.PaymentCharged',
  time: '2026-11-23T09:00:00.000Z',
  sagaId: 'order-4711',
  sagaType: 'order-fulfillment',
  sagaVersion: 2,
  sagaRole: 'step-completed',
  sagaStep: 'payment',
  causationId: 'e-0',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};

describe('envelope', () => {
  it('round-trips every field through Kafka headers as Buffers', () => {
    const wire = Object.fromEntries(Object.entries(toHeaders(env)).map(([k, v]) => [k, Buffer.from(v)]));
    expect(parseEnvelope(wire)).toEqual(env);
  });

  it('names every missing or malformed header in one error', () => {
    const headers = { ...toHeaders(env), ce_sagarole: 'finished', ce_time: 'yesterday', ce_sagaversion: 'v2' } as Record<string, string>;
    delete headers['ce_id'];
    const err = (() => {
      try {
        parseEnvelope(headers);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(EnvelopeError);
    expect((err as EnvelopeError).problems).toEqual([
      'missing header ce_id',
      "ce_time 'yesterday' is not an ISO-8601 timestamp",
      "ce_sagarole 'finished' is not one of start, step-completed, step-failed, compensated, compensation-failed, end",
      "ce_sagaversion 'v2' is not a positive integer",
    ]);
  });

  it('reads a saga without a version header as one without a version (version 1 of its contract)', () => {
    const { sagaVersion: _omitted, ...v1 } = env;
    expect(parseEnvelope(toHeaders(v1)).sagaVersion).toBeUndefined();
    expect(toHeaders(env)['ce_sagaversion']).toBe('2');
  });
});
