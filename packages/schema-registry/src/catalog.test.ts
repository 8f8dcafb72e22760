import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatProblem, inspectCatalog, loadCatalog } from './catalog.js';
import { SchemaRegistryError } from './errors.js';

const placed = {
  type: 'record',
  name: 'Placed',
  namespace: 'com.acme.t',
  fields: [{ name: 'orderId', type: 'string' }],
};
const done = { ...placed, name: 'Done' };
const contract = `saga: t-saga
start: com.acme.t.Placed
deadline: 5m
steps:
  - name: pay
    participant: pay-service
    completed: com.acme.t.Done
    failed: com.acme.t.Failed
    within: 250ms
end:
  completed: com.acme.t.Done2
  aborted: com.acme.t.Aborted
`;

let dir: string;
async function put(path: string, text: string): Promise<void> {
  await mkdir(join(dir, path, '..'), { recursive: true });
  await writeFile(join(dir, path), text);
}
async function validCatalog(): Promise<void> {
  for (const n of ['Placed', 'Done', 'Failed', 'Done2', 'Aborted']) await put(`orders/${n}.avsc`, JSON.stringify({ ...placed, name: n }));
  await put('sagas/t-saga.saga.yaml', contract);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'troupe-catalog-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadCatalog', () => {
  it('loads the repository schemas: 13 events on 4 topics, the order-fulfillment contract and its parallel variant', async () => {
    const catalog = await loadCatalog(join(import.meta.dirname, '../../../schemas'));
    expect(catalog.events.map((e) => e.topic).filter((t, i, a) => a.indexOf(t) === i)).toEqual([
      'inventory',
      'orders',
      'payments',
      'shipping',
    ]);
    expect(catalog.events).toHaveLength(13);
    expect(catalog.contracts.map((x) => x.contract.saga).sort()).toEqual(['order-fulfillment', 'order-fulfillment-parallel']);
    const c = catalog.contracts.find((x) => x.contract.saga === 'order-fulfillment')?.contract;
    expect(c?.deadlineMs).toBe(300_000);
    expect(c?.steps.map((s) => [s.name, s.participant, s.withinMs])).toEqual([
      ['payment', 'payment-service', 30_000],
      ['inventory', 'inventory-service', 30_000],
      ['shipping', 'shipping-service', 60_000],
    ]);
    // Same steps and events, payment and inventory grouped: the example's parallel variant.
    const p = catalog.contracts.find((x) => x.contract.saga === 'order-fulfillment-parallel')?.contract;
    expect(p?.steps.map((s) => [s.name, s.parallel, s.completed])).toEqual(
      c?.steps.map((s) => [s.name, s.name === 'shipping' ? undefined : 'charge-and-reserve', s.completed]),
    );
  });

  it('parses durations to ms and keeps topic from the folder name', async () => {
    await validCatalog();
    const catalog = await loadCatalog(dir);
    expect(catalog.events.find((e) => e.name === 'com.acme.t.Placed')?.topic).toBe('orders');
    expect(catalog.contracts[0]?.contract.steps[0]?.withinMs).toBe(250);
    expect(catalog.contracts[0]?.contract.deadlineMs).toBe(300_000);
  });

  it('reads onTimeout for the saga and per step, and refuses an unknown action naming the allowed ones', async () => {
    await validCatalog();
    await put(
      'sagas/t-saga.saga.yaml',
      contract
        .replace('deadline: 5m\n', 'deadline: 5m\nonTimeout: fail-step\n')
        .replace('within: 250ms\n', 'within: 250ms\n    onTimeout: abort\n'),
    );
    const c = (await loadCatalog(dir)).contracts[0]?.contract;
    expect(c?.onTimeout).toBe('fail-step');
    expect(c?.steps[0]?.onTimeout).toBe('abort');
    await put('sagas/t-saga.saga.yaml', contract.replace('deadline: 5m\n', 'deadline: 5m\nonTimeout: cancel\n'));
    const { problems } = await inspectCatalog(dir);
    expect(problems.map((p) => [p.path, p.message])).toEqual([['onTimeout', 'must be one of abort, fail-step, report-only']]);
  });

  it('reports malformed JSON with file and line', async () => {
    await validCatalog();
    await put('orders/Placed.avsc', '{\n  "type": "record",\n  "name": "Placed",,\n}');
    const { problems } = await inspectCatalog(dir);
    const p = problems.find((x) => x.file.endsWith('orders/Placed.avsc'));
    expect(p?.code).toBe('INVALID_SCHEMA');
    expect(p?.message).toContain('is not valid JSON');
    expect(p?.line).toBe(3);
  });

  it('reports invalid Avro at the path of the offending sub-schema', async () => {
    await validCatalog();
    await put(
      'orders/Placed.avsc',
      JSON.stringify({
        ...placed,
        fields: [
          { name: 'orderId', type: 'string' },
          { name: 'qty', type: 'integer' },
        ],
      }),
    );
    const problems = (await inspectCatalog(dir)).problems.filter((p) => p.file.endsWith('.avsc'));
    expect(problems).toHaveLength(1);
    expect(formatProblem(problems[0]!)).toMatch(/orders\/Placed\.avsc: fields\[1\]\.type: is not valid Avro: .*integer/);
  });

  it('requires a namespace and a file named after the record', async () => {
    await put('orders/Placed.avsc', JSON.stringify({ ...placed, namespace: undefined }));
    await put('orders/Wrong.avsc', JSON.stringify(done));
    const { problems } = await inspectCatalog(dir);
    expect(problems.map((p) => [p.path, p.message.split(':')[0]])).toEqual([
      ['namespace', 'is missing'],
      ['name', 'record com.acme.t.Done must live in a file named Done.avsc'],
    ]);
  });

  it('reports a contract naming an unknown event type, with line and path', async () => {
    await validCatalog();
    await put('sagas/t-saga.saga.yaml', contract.replace('com.acme.t.Failed', 'com.acme.t.Faild'));
    const err = await loadCatalog(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SchemaRegistryError);
    expect((err as SchemaRegistryError).code).toBe('INVALID_CONTRACT');
    expect((err as Error).message).toMatch(/sagas\/t-saga\.saga\.yaml:8: steps\[0\]\.failed: names unknown event type com\.acme\.t\.Faild/);
  });

  it('reports a step without participant and other format errors, every one', async () => {
    await validCatalog();
    await put(
      'sagas/t-saga.saga.yaml',
      contract
        .replace('    participant: pay-service\n', '')
        .replace('deadline: 5m', 'deadline: 5 minutes')
        .replace('within: 250ms', 'compensate: com.acme.t.Done'),
    );
    const { problems } = await inspectCatalog(dir);
    const text = problems.map(formatProblem);
    expect(text).toContain(`${problems[0]?.file}:3: deadline: must be a duration such as 250ms, 30s, 5m or 1h`);
    expect(text.some((t) => /:5: steps\[0\]: missing 'participant': name the service that owns this step/.test(t))).toBe(true);
    expect(
      text.some((t) =>
        /steps\[0\]: unknown key 'compensate' \(allowed: name, participant, completed, failed, compensated, compensationFailed, within, onTimeout, optional\)/.test(
          t,
        ),
      ),
    ).toBe(true);
  });

  it('reports invalid YAML with its line', async () => {
    await validCatalog();
    await put('sagas/t-saga.saga.yaml', 'saga: t-saga\nsteps: [\n');
    const { problems } = await inspectCatalog(dir);
    expect(problems[0]?.message).toMatch(/^is not valid YAML/);
    expect(problems[0]?.line).toBeGreaterThan(0);
  });

  it('rejects an event type with two roles in one saga', async () => {
    await validCatalog();
    await put('sagas/t-saga.saga.yaml', contract.replace('com.acme.t.Failed', 'com.acme.t.Done'));
    const { problems } = await inspectCatalog(dir);
    expect(problems.map((p) => p.message)).toContain(
      'com.acme.t.Done is already used as steps[0].completed; each event type may have one role in a saga',
    );
  });

  it("loads business attributes and checks each names a scalar field of one of the saga's events", async () => {
    await validCatalog();
    await put(
      'orders/Placed.avsc',
      JSON.stringify({
        ...placed,
        fields: [
          { name: 'orderId', type: 'string' },
          { name: 'customer', type: { type: 'record', name: 'Customer', fields: [{ name: 'id', type: ['null', 'string'] }] } },
          { name: 'lines', type: { type: 'array', items: 'string' } },
        ],
      }),
    );
    const withAttributes = (lines: string) => `${contract}attributes:\n${lines}`;
    await put('sagas/t-saga.saga.yaml', withAttributes('  - { name: customerId, from: com.acme.t.Placed, field: customer.id }\n'));
    const { catalog, problems } = await inspectCatalog(dir);
    expect(problems).toEqual([]);
    expect(catalog.contracts[0]?.contract.attributes).toEqual([
      { name: 'customerId', from: 'com.acme.t.Placed', path: ['customer', 'id'] },
    ]);

    const wrong = [
      '  - { name: customerId, from: com.acme.t.Placed, field: customer.name }',
      '  - { name: lines, from: com.acme.t.Placed, field: lines }',
      '  - { name: lines, from: com.acme.t.Other, field: orderId }',
    ];
    // Format errors are reported first (and alone): the rest needs a well-formed document.
    await put(
      'sagas/t-saga.saga.yaml',
      withAttributes([...wrong, '  - { name: bad-name, from: com.acme.t.Placed, field: orderId }', ''].join('\n')),
    );
    const found = (await inspectCatalog(dir)).problems.map((p) => `${p.path}: ${p.message}`);
    expect(found).toEqual(['attributes[3].name: must be a name such as customerId (letters, digits, _)']);
    await put('sagas/t-saga.saga.yaml', withAttributes([...wrong, ''].join('\n')));
    expect((await inspectCatalog(dir)).problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "attributes[0].field: customer has no field 'name' (fields: id) in com.acme.t.Placed",
      'attributes[1].field: lines is not a string, number, boolean or enum field in com.acme.t.Placed',
      "attributes[2].name: attribute 'lines' is declared twice; attribute names must be unique",
      'attributes[2].from: com.acme.t.Other is not an event of this saga; take attributes from its start, step or end events',
    ]);
  });

  describe('parallel groups and optional steps', () => {
    const parallel = `saga: t-saga
start: com.acme.t.Placed
steps:
  - parallel: reserve
    branches:
      - name: pay
        participant: pay-service
        completed: com.acme.t.Paid
        failed: com.acme.t.PayFailed
        compensated: com.acme.t.Refunded
        within: 30s
      - name: stock
        participant: stock-service
        completed: com.acme.t.Reserved
        failed: com.acme.t.StockFailed
  - name: gift
    participant: gift-service
    optional: true
    completed: com.acme.t.Wrapped
    failed: com.acme.t.NotWrapped
  - name: ship
    participant: ship-service
    completed: com.acme.t.Shipped
    failed: com.acme.t.ShipFailed
end:
  completed: com.acme.t.Done2
  aborted: com.acme.t.Aborted
`;
    const names = ['Placed', 'Paid', 'PayFailed', 'Refunded', 'Reserved', 'StockFailed', 'Wrapped', 'NotWrapped', 'Shipped', 'ShipFailed'];
    async function parallelCatalog(text: string): Promise<void> {
      for (const n of [...names, 'Done2', 'Aborted']) await put(`orders/${n}.avsc`, JSON.stringify({ ...placed, name: n }));
      await put('sagas/t-saga.saga.yaml', text);
    }

    it('loads a group as consecutive branch steps named after it, and optional steps', async () => {
      await parallelCatalog(parallel);
      const { catalog, problems } = await inspectCatalog(dir);
      expect(problems).toEqual([]);
      expect(catalog.contracts[0]?.contract.steps).toEqual([
        {
          name: 'pay',
          participant: 'pay-service',
          completed: 'com.acme.t.Paid',
          failed: 'com.acme.t.PayFailed',
          compensated: 'com.acme.t.Refunded',
          withinMs: 30_000,
          parallel: 'reserve',
        },
        {
          name: 'stock',
          participant: 'stock-service',
          completed: 'com.acme.t.Reserved',
          failed: 'com.acme.t.StockFailed',
          parallel: 'reserve',
        },
        { name: 'gift', participant: 'gift-service', completed: 'com.acme.t.Wrapped', failed: 'com.acme.t.NotWrapped', optional: true },
        { name: 'ship', participant: 'ship-service', completed: 'com.acme.t.Shipped', failed: 'com.acme.t.ShipFailed' },
      ]);
    });

    it('reports problems inside a branch at the branch’s path and line', async () => {
      await parallelCatalog(parallel.replace('        participant: stock-service\n', '').replace('within: 30s', 'retries: 3'));
      const text = (await inspectCatalog(dir)).problems.map(formatProblem);
      expect(text.some((t) => /:12: steps\[0\]\.branches\[1\]: missing 'participant'/.test(t))).toBe(true);
      expect(text.some((t) => /steps\[0\]\.branches\[0\]: unknown key 'retries'/.test(t))).toBe(true);
      // The `if` that chose the group format is not a problem of its own.
      expect(text.every((t) => !t.includes('must match "then" schema'))).toBe(true);
    });

    it('refuses a group with one branch, unknown group keys, a name used twice and a role used twice', async () => {
      const one = parallel.replace(/ {6}- name: stock\n(.*\n){3}/, '');
      await parallelCatalog(one.replace('  - parallel: reserve\n', '  - parallel: reserve\n    within: 1m\n'));
      expect((await inspectCatalog(dir)).problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
        "steps[0]: unknown key 'within' (allowed: parallel, branches)",
        'steps[0].branches: a parallel group needs at least two branches; write a single step without parallel/branches',
      ]);
      await parallelCatalog(
        parallel.replace('parallel: reserve', 'parallel: gift').replace('failed: com.acme.t.StockFailed', 'failed: com.acme.t.PayFailed'),
      );
      expect((await inspectCatalog(dir)).problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
        'steps[0].branches[1].failed: com.acme.t.PayFailed is already used as steps[0].branches[0].failed; each event type may have one role in a saga',
        "steps[0].parallel: 'gift' is already the name of a step or group; name the group differently",
      ]);
    });
  });
});
