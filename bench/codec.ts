// Encode/decode cost per event: Avro with Confluent framing (through Troupe's codec) versus
// JSON.stringify/parse. Run: npx tsx bench/codec.ts   (SCHEMA_REGISTRY_URL set: also the REST client)
// Prints µs per operation (median of 5 rounds) and the encoded size. Not a test: no thresholds.
import { ConfluentSchemaRegistry, MemorySchemaRegistry, avroTypeOf, type EventCodec, type EventType } from '@troupe/schema-registry';
import { OrderPlaced, PaymentCharged } from '../test/generated/events.js';

const ROUNDS = 5;
const N = Number(process.env['BENCH_N'] ?? 50_000);

const order: OrderPlaced = {
  orderId: 'ord-2026-000417',
  customerId: 'cus-88121',
  items: [
    { sku: 'SKU-RED-MUG', quantity: 2, unitPriceCents: 1250 },
    { sku: 'SKU-BLUE-TEE-L', quantity: 1, unitPriceCents: 2499 },
    { sku: 'SKU-TOTE', quantity: 3, unitPriceCents: 899 },
  ],
  totalCents: 7696,
  currency: 'EUR',
  shippingAddress: { line1: 'Oudegracht 231', line2: null, city: 'Utrecht', postalCode: '3511 NK', country: 'NL' },
  couponCode: null,
};
const charged: PaymentCharged = { orderId: 'ord-2026-000417', paymentId: 'pay-5531', amountCents: 7696, currency: 'EUR', method: 'CARD' };
const cases: readonly (readonly [EventType<unknown>, unknown])[] = [
  [OrderPlaced, order],
  [PaymentCharged, charged],
];

async function measure(fn: () => unknown): Promise<number> {
  for (let i = 0; i < Math.min(N, 5_000); i++) await fn();
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await fn();
    rounds.push(Number(process.hrtime.bigint() - t0) / 1000 / N);
  }
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(ROUNDS / 2)] ?? Number.NaN;
}

const rows: { event: string; codec: string; encodeUs: number; decodeUs: number; bytes: number }[] = [];

async function benchCodec(name: string, codec: EventCodec): Promise<void> {
  for (const [type, payload] of cases) {
    const bytes = await codec.encode(type, payload);
    rows.push({
      event: type.name.split('.').pop() ?? type.name,
      codec: name,
      encodeUs: await measure(() => codec.encode(type, payload)),
      decodeUs: await measure(() => codec.decode(bytes, type)),
      bytes: bytes.length,
    });
  }
}

await benchCodec('avro+frame (MemorySchemaRegistry)', new MemorySchemaRegistry());
const url = process.env['SCHEMA_REGISTRY_URL'];
if (url) await benchCodec('avro+frame (ConfluentSchemaRegistry, cached)', await ConfluentSchemaRegistry.create({ url }));

for (const [type, payload] of cases) {
  const t = avroTypeOf(type.schema);
  const avroBytes = t.toBuffer(payload);
  rows.push({
    event: type.name.split('.').pop() ?? type.name,
    codec: 'avsc toBuffer/fromBuffer (no validation, no frame)',
    encodeUs: await measure(() => t.toBuffer(payload)),
    decodeUs: await measure(() => t.fromBuffer(avroBytes)),
    bytes: avroBytes.length,
  });
  const json = Buffer.from(JSON.stringify(payload));
  rows.push({
    event: type.name.split('.').pop() ?? type.name,
    codec: 'JSON.stringify/parse (+Buffer)',
    encodeUs: await measure(() => Buffer.from(JSON.stringify(payload))),
    decodeUs: await measure(() => JSON.parse(json.toString('utf8')) as unknown),
    bytes: json.length,
  });
}

console.log(`node ${process.version}, ${N} ops x ${ROUNDS} rounds, median µs/op`);
console.table(rows.map((r) => ({ ...r, encodeUs: r.encodeUs.toFixed(2), decodeUs: r.decodeUs.toFixed(2) })));
