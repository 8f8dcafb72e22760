// `troupe-schemas` as users run it: bad input is rejected with file and path, and `register` /
// `check` work against a real Confluent-compatible registry.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSchemasCli } from '@troupe/schema-registry';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'packages/schema-registry/src/cli/troupe-schemas.ts');

function registryUrl(): string {
  const url = process.env['SCHEMA_REGISTRY_URL'];
  if (!url) throw new Error('SCHEMA_REGISTRY_URL is not set: the integration global setup should have started a registry.');
  return url;
}

/** Runs the CLI as a separate process, the way a user or CI runs it. */
function troupeSchemas(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function inProcess(...argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runSchemasCli(argv, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
  return { code, out: lines.join('\n') };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'troupe-schemas-cli-'));
  await cp(join(root, 'schemas'), join(dir, 'schemas'), { recursive: true });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('troupe-schemas bad input', () => {
  it('validate exits non-zero naming file and path for malformed JSON, invalid Avro, an unknown event and a step without participant', async () => {
    const s = join(dir, 'schemas');
    await writeFile(join(s, 'orders/OrderCompleted.avsc'), '{\n  "type": "record",\n  "name": "OrderCompleted"\n  "fields": []\n}\n');
    const declined = JSON.parse(await readFile(join(s, 'payments/PaymentDeclined.avsc'), 'utf8')) as {
      fields: { name: string; type: unknown }[];
    };
    declined.fields[1] = { name: 'amountCents', type: 'money' };
    await writeFile(join(s, 'payments/PaymentDeclined.avsc'), JSON.stringify(declined, null, 2));
    const contract = await readFile(join(s, 'sagas/order-fulfillment.saga.yaml'), 'utf8');
    await writeFile(join(s, 'sagas/order-fulfillment.saga.yaml'), contract.replace('    participant: inventory-service\n', ''));
    await writeFile(
      join(s, 'sagas/refund.saga.yaml'),
      'saga: refund\nstart: com.acme.orders.OrderPlaced\nsteps:\n  - name: refund\n    participant: payment-service\n    completed: com.acme.payments.PaymentRefunded\n    failed: com.acme.payments.RefundFailed\nend:\n  completed: com.acme.payments.PaymentRefunded2\n  aborted: com.acme.orders.OrderCancelled\n',
    );

    const r = await troupeSchemas(['--schemas', s, 'validate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/orders\/OrderCompleted\.avsc:4: is not valid JSON/);
    expect(r.stderr).toMatch(/payments\/PaymentDeclined\.avsc: fields\[1\]\.type: is not valid Avro: .*money/);
    expect(r.stderr).toMatch(/sagas\/order-fulfillment\.saga\.yaml:\d+: steps\[1\]: missing 'participant'/);
    expect(r.stderr).toMatch(/sagas\/refund\.saga\.yaml:7: steps\[0\]\.failed: names unknown event type com\.acme\.payments\.RefundFailed/);
    expect(r.stderr).toMatch(/sagas\/refund\.saga\.yaml:9: end\.completed: names unknown event type com\.acme\.payments\.PaymentRefunded2/);
  });

  it('compat prints the reason on stdout and exits 1 when incompatible', async () => {
    const v2 = join(dir, 'PaymentCharged.v2.avsc');
    const v1 = join(dir, 'schemas/payments/PaymentCharged.avsc');
    const schema = JSON.parse(await readFile(v1, 'utf8')) as { fields: unknown[] };
    schema.fields.push({ name: 'cardBrand', type: 'string' });
    await writeFile(v2, JSON.stringify(schema));
    const r = await troupeSchemas(['compat', '--level', 'FULL', v1, v2]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("version 1, new reads old: field 'cardBrand' is read without a default");
  });
});

describe('troupe-schemas register and check against the real registry', () => {
  it('registers every schema, gets the same ids again, and checks a changed schema at the subject level', async () => {
    const s = join(dir, 'schemas');
    // Fresh topic folders, so subjects (<topic>-<fullname>) are this run's own.
    const suffix = randomBytes(4).toString('hex');
    for (const topic of ['orders', 'payments', 'inventory', 'shipping']) await rename(join(s, topic), join(s, `${topic}-${suffix}`));

    const first = await inProcess('--schemas', s, 'register', '--registry', registryUrl());
    expect(first.code, first.out).toBe(0);
    const ids = first.out.split('\n').filter((l) => l.includes(': id '));
    // One id per .avsc file in the catalog.
    const avsc = (await Promise.all(['orders', 'payments', 'inventory', 'shipping'].map((t) => readdir(join(s, `${t}-${suffix}`))))).flat();
    expect(avsc.filter((f) => f.endsWith('.avsc')).length).toBeGreaterThan(10);
    expect(ids).toHaveLength(avsc.filter((f) => f.endsWith('.avsc')).length);
    expect(
      (await inProcess('--schemas', s, 'register', '--registry', registryUrl())).out.split('\n').filter((l) => l.includes(': id ')),
    ).toEqual(ids);

    const unchanged = await inProcess('--schemas', s, 'check', '--registry', registryUrl());
    expect(unchanged.code, unchanged.out).toBe(0);
    expect(unchanged.out).toContain(`payments-${suffix}-com.acme.payments.PaymentCharged: registered as version 1`);

    const file = join(s, `payments-${suffix}/PaymentCharged.avsc`);
    const schema = JSON.parse(await readFile(file, 'utf8')) as { fields: unknown[] };
    await writeFile(
      file,
      JSON.stringify({ ...schema, fields: [...schema.fields, { name: 'cardBrand', type: ['null', 'string'], default: null }] }),
    );
    const compatible = await inProcess('--schemas', s, 'check', '--registry', registryUrl());
    expect(compatible.code, compatible.out).toBe(0);
    expect(compatible.out).toContain(
      `payments-${suffix}-com.acme.payments.PaymentCharged: compatible (BACKWARD), registry says compatible, would be registered as version 2`,
    );

    await writeFile(file, JSON.stringify({ ...schema, fields: [...schema.fields, { name: 'cardBrand', type: 'string' }] }));
    const incompatible = await inProcess('--schemas', s, 'check', '--registry', registryUrl());
    expect(incompatible.code).toBe(1);
    expect(incompatible.out).toContain("incompatible (BACKWARD):\n  version 1, new reads old: field 'cardBrand' is read without a default");
    expect(incompatible.out).toContain('registry says incompatible');
    expect(incompatible.out).not.toContain('disagree');
    const rejected = await inProcess('--schemas', s, 'register', '--registry', registryUrl());
    expect(rejected.code).toBe(1);
    expect(rejected.out).toContain(`payments-${suffix}-com.acme.payments.PaymentCharged`);
  });
});

describe('troupe-schemas check of saga contract changes', () => {
  it('accepts a new contract version next to the old one, and refuses a version changed in place', async () => {
    // The deployed schemas as the baseline; the working copy adds version 2 beside version 1.
    const s = join(dir, 'schemas');
    const deployed = join(dir, 'deployed');
    await cp(s, deployed, { recursive: true });
    // Subjects of this run's own (the registry part of check runs too).
    const suffix = randomBytes(4).toString('hex');
    for (const d of [s, deployed])
      for (const topic of ['orders', 'payments', 'inventory', 'shipping']) await rename(join(d, topic), join(d, `${topic}-${suffix}`));
    const v1 = await readFile(join(s, 'sagas/order-fulfillment.saga.yaml'), 'utf8');
    await writeFile(join(s, 'sagas/order-fulfillment.v1.saga.yaml'), v1);
    const v2 = v1.replace('initiator: order-service\n', 'version: 2\ninitiator: order-service\n').replace('deadline: 5m', 'deadline: 10m');
    await writeFile(join(s, 'sagas/order-fulfillment.saga.yaml'), v2);
    expect((await troupeSchemas(['--schemas', s, 'validate'])).code).toBe(0);

    const added = await troupeSchemas(['--schemas', s, 'check', '--registry', registryUrl(), '--contracts-baseline', deployed]);
    expect(added.stdout).toContain('contract order-fulfillment v1: version 1 unchanged');
    expect(added.stdout).toContain('contract order-fulfillment v2: new version 2');
    expect(added.code, added.stdout + added.stderr).toBe(0);

    // Version 1 edited in place while its sagas may be in flight.
    await writeFile(join(s, 'sagas/order-fulfillment.v1.saga.yaml'), v1.replace('deadline: 5m', 'deadline: 7m'));
    const changed = await troupeSchemas(['--schemas', s, 'check', '--registry', registryUrl(), '--contracts-baseline', deployed]);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/contract order-fulfillment v1: INCOMPATIBLE: version 1 changed .*save the change as version 2/);
  });
});
