import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import avro from 'avsc';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AvroRecordSchema } from './avro-schema.js';
import type { Catalog } from './catalog.js';
import { loadCatalog } from './catalog.js';
import { generateModule } from './codegen.js';
import { defineEventType, type EventType } from './event-type.js';
import { defineStep } from './step-descriptor.js';
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

  it('emits what a step after a parallel group or an optional step awaits, and who compensates on whose failure', () => {
    const rec = (name: string): AvroRecordSchema => ({
      type: 'record',
      name,
      namespace: 'com.acme.p',
      fields: [{ name: 'id', type: 'string' }],
    });
    const names = [
      'Placed',
      'Paid',
      'PayFailed',
      'Reserved',
      'StockFailed',
      'Wrapped',
      'NotWrapped',
      'Shipped',
      'ShipFailed',
      'Done',
      'Cancelled',
    ];
    const step = (name: string, done: string, failed: string, extra: { parallel?: string; optional?: boolean } = {}) => ({
      name,
      participant: `${name}-service`,
      completed: `com.acme.p.${done}`,
      failed: `com.acme.p.${failed}`,
      ...extra,
    });
    const catalog: Catalog = {
      ...catalogOf(...names.map(rec)),
      contracts: [
        {
          file: 'sagas/p.saga.yaml',
          contract: {
            saga: 'p',
            start: 'com.acme.p.Placed',
            steps: [
              step('pay', 'Paid', 'PayFailed', { parallel: 'reserve' }),
              step('stock', 'Reserved', 'StockFailed', { parallel: 'reserve' }),
              step('gift', 'Wrapped', 'NotWrapped', { optional: true }),
              step('ship', 'Shipped', 'ShipFailed'),
            ],
            end: { completed: 'com.acme.p.Done', aborted: 'com.acme.p.Cancelled' },
          },
        },
      ],
    };
    const out = generateModule(catalog);
    expect(out).toContain("import type { EventType } from '@troupe/schema-registry';".replace(/'/g, '"'));
    const block = (name: string): string =>
      out.slice(out.indexOf(`  ${name}: defineStep({`), out.indexOf('}),', out.indexOf(`  ${name}: defineStep({`)));
    expect(block('pay')).toContain('on: Placed,');
    expect(block('pay')).toContain('parallel: "reserve",');
    expect(block('pay')).toContain('compensateOn: [StockFailed, ShipFailed]'); // its sibling's failure, not the optional gift's
    expect(block('stock')).toContain('compensateOn: [PayFailed, ShipFailed]');
    expect(block('gift')).toContain('on: Paid as EventType<Paid | Reserved>,\n    awaits: [[Paid], [Reserved]],'); // the join
    expect(block('gift')).toContain('optional: true,');
    expect(block('ship')).toContain('on: Wrapped as EventType<Wrapped | NotWrapped>,\n    awaits: [[Wrapped, NotWrapped]],');
    expect(block('ship')).toContain('compensateOn: []');

    // What the generated join descriptor amounts to, typed: the input is either branch's payload.
    interface Paid {
      id: string;
      paymentId: string;
    }
    interface Reserved {
      id: string;
      reservationId: string;
    }
    const PaidT = defineEventType<Paid>({ name: 'com.acme.p.Paid', topic: 'payments', schema: rec('Paid') });
    const ReservedT = defineEventType<Reserved>({ name: 'com.acme.p.Reserved', topic: 'inventory', schema: rec('Reserved') });
    const input: EventType<Paid | Reserved> = PaidT;
    const joined = defineStep({
      saga: 'p',
      name: 'gift',
      participant: 'gift-service',
      on: input,
      awaits: [[PaidT], [ReservedT]],
      optional: true,
      completed: PaidT,
      failed: ReservedT,
      compensateOn: [],
    });
    expectTypeOf(joined.on).toEqualTypeOf<EventType<Paid | Reserved>>();
    expect(joined.awaits).toEqual([[PaidT], [ReservedT]]);
    expect([joined.optional, joined.parallel]).toEqual([true, undefined]);
    // A linear step still awaits just its `on`.
    expect(orderFulfillment.inventory.awaits).toEqual([[PaymentCharged]]);
  });
});
