import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import type { AvroRecordSchema } from './avro-schema.js';
import type { Catalog } from './catalog.js';
import { loadCatalog } from './catalog.js';
import { generateModule } from './codegen.js';
import { MemorySchemaRegistry } from './memory-registry.js';
import {
  InventoryReservationFailed,
  OrderPlaced,
  PaymentCharged,
  ShipmentFailed,
  contracts,
  eventTypes,
  orderFulfillment,
} from '../../../test/generated/events.js';

const root = join(import.meta.dirname, '../../..');

function catalogOf(...schemas: AvroRecordSchema[]): Catalog {
  return {
    dir: 'x',
    events: schemas.map((schema) => ({ name: `${schema.namespace}.${schema.name}`, topic: 't', schema, file: `t/${schema.name}.avsc` })),
    contracts: [],
  };
}

describe('generateModule', () => {
  it('the committed test/generated/events.ts is what codegen writes from schemas/ (not stale)', async () => {
    const expected = generateModule(await loadCatalog(join(root, 'schemas')), { sourceLabel: '../../schemas/' });
    expect(await readFile(join(root, 'test/generated/events.ts'), 'utf8')).toBe(expected);
  });

  it('emits a typed descriptor per contract step: input, outcomes and compensation triggers from the contract', () => {
    const { payment, inventory, shipping } = orderFulfillment;
    expect([payment.saga, payment.name, payment.participant]).toEqual(['order-fulfillment', 'payment', 'payment-service']);
    expect(payment.on).toBe(OrderPlaced); // the saga's start event
    expect(inventory.on).toBe(PaymentCharged); // the previous step's completed event
    expect(payment.compensateOn).toEqual([InventoryReservationFailed, ShipmentFailed]);
    expect(shipping.compensated).toBeUndefined();
    expect(shipping.compensateOn).toEqual([]);
    expect(payment.withLog<{ paymentId: string }>()).toBe(payment); // a type only
    expect(contracts['order-fulfillment'].steps.map((s) => s.name)).toEqual(Object.keys(orderFulfillment));
  });

  it('is deterministic', async () => {
    const a = generateModule(await loadCatalog(join(root, 'schemas')));
    const b = generateModule(await loadCatalog(join(root, 'schemas')));
    expect(a).toBe(b);
  });

  it('types unions the way avsc represents them: unwrapped unless two branches share a bucket', () => {
    const unions: [unknown[], string][] = [
      [['null', 'string'], 'null | string'],
      [['null', 'int', 'string'], 'null | number | string'],
      [['null', 'int', 'long'], 'null | { "int": number } | { "long": number }'],
    ];
    for (const [union, ts] of unions) {
      const schema: AvroRecordSchema = {
        type: 'record',
        name: 'U',
        namespace: 'com.acme.t',
        fields: [{ name: 'u', type: union as string[] }],
      };
      expect(generateModule(catalogOf(schema))).toContain(`  u: ${ts};`);
      const wrapped = avro.Type.forSchema({ type: 'record', name: 'U', fields: [{ name: 'u', type: union }] } as avro.Schema);
      expect((wrapped as avro.types.RecordType).fields[0]?.type instanceof avro.types.WrappedUnionType).toBe(ts.includes('{'));
    }
  });

  it('qualifies colliding short names with their namespace', () => {
    const a: AvroRecordSchema = {
      type: 'record',
      name: 'A',
      namespace: 'com.acme.orders',
      fields: [{ name: 'c', type: { type: 'enum', name: 'Currency', symbols: ['EUR'] } }],
    };
    const b: AvroRecordSchema = {
      type: 'record',
      name: 'B',
      namespace: 'com.acme.payments',
      fields: [{ name: 'c', type: { type: 'enum', name: 'Currency', symbols: ['USD'] } }],
    };
    const out = generateModule(catalogOf(a, b));
    expect(out).toContain('export type OrdersCurrency = "EUR";');
    expect(out).toContain('export type PaymentsCurrency = "USD";');
  });

  it('generated descriptors and contracts work with a registry', async () => {
    expect(eventTypes).toHaveLength(13);
    expect(contracts['order-fulfillment'].start).toBe(OrderPlaced.name);
    const reg = new MemorySchemaRegistry();
    const payload: OrderPlaced = {
      orderId: 'o-1',
      customerId: 'c-1',
      items: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 1250 }],
      totalCents: 2500,
      currency: 'EUR',
      shippingAddress: { line1: 'Main St 1', city: 'Utrecht', postalCode: '3511', country: 'NL' },
    };
    const decoded = await reg.decode(await reg.encode(OrderPlaced, payload), OrderPlaced);
    expect(decoded.payload.shippingAddress.line2).toBeNull();
    expect(decoded.payload.couponCode).toBeNull();
    expect(decoded.payload.items[0]?.unitPriceCents).toBe(1250);
  });
});
