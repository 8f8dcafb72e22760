import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inspectCatalog, loadCatalog } from './catalog.js';
import { contractChanges } from './contract-versions.js';

const record = (name: string) =>
  JSON.stringify({ type: 'record', name, namespace: 'com.acme.t', fields: [{ name: 'id', type: 'string' }] });
const EVENTS = ['Placed', 'Paid', 'PayFailed', 'Checked', 'CheckFailed', 'Done', 'Aborted'];

/** Version 1: pay; version 2: a fraud check before pay. */
const v1 = `saga: t-saga
start: com.acme.t.Placed
steps:
  - name: pay
    participant: pay-service
    completed: com.acme.t.Paid
    failed: com.acme.t.PayFailed
end:
  completed: com.acme.t.Done
  aborted: com.acme.t.Aborted
`;
const v2 = `saga: t-saga
version: 2
start: com.acme.t.Placed
steps:
  - name: check
    participant: fraud-service
    completed: com.acme.t.Checked
    failed: com.acme.t.CheckFailed
  - name: pay
    participant: pay-service
    completed: com.acme.t.Paid
    failed: com.acme.t.PayFailed
end:
  completed: com.acme.t.Done
  aborted: com.acme.t.Aborted
`;
/** Version 1 with both steps, pay before check (version 2 runs check first). */
const v1Two = v1.replace(
  'end:',
  `  - name: check
    participant: fraud-service
    completed: com.acme.t.Checked
    failed: com.acme.t.CheckFailed
end:`,
);

let dirs: string[] = [];
async function schemas(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'troupe-versions-'));
  dirs.push(dir);
  await mkdir(join(dir, 'orders'), { recursive: true });
  await mkdir(join(dir, 'sagas'), { recursive: true });
  for (const n of EVENTS) await writeFile(join(dir, 'orders', `${n}.avsc`), record(n));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, 'sagas', name), text);
  return dir;
}
beforeEach(() => {
  dirs = [];
});
afterEach(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('contract versions side by side', () => {
  it('loads two versions of one saga, oldest first, and refuses two files of one version', async () => {
    const catalog = await loadCatalog(await schemas({ 't-saga.v1.saga.yaml': v1, 't-saga.saga.yaml': v2 }));
    expect(catalog.contracts.map((c) => [c.contract.saga, c.contract.version, c.contract.steps.map((s) => s.name)])).toEqual([
      ['t-saga', undefined, ['pay']],
      ['t-saga', 2, ['check', 'pay']],
    ]);
    const twice = await inspectCatalog(await schemas({ 't-saga.saga.yaml': v2, 't-saga.v2.saga.yaml': v2 }));
    expect(twice.problems.map((p) => p.message)).toEqual([expect.stringContaining("saga 't-saga' version 2 is also defined by")]);
    const misnamed = await inspectCatalog(await schemas({ 't-saga.v3.saga.yaml': v2 }));
    expect(misnamed.problems.map((p) => p.message)).toEqual([
      "saga 't-saga' version 2 must live in a file named t-saga.saga.yaml or t-saga.v2.saga.yaml",
    ]);
  });

  it('refuses a version that gives a shared event type another role or a shared step another owner', async () => {
    const swapped = v2
      .replace('completed: com.acme.t.Checked', 'completed: com.acme.t.Paid')
      .replace(
        /- name: pay\n {4}participant: pay-service\n {4}completed: com.acme.t.Paid/,
        '- name: pay\n    participant: billing-service\n    completed: com.acme.t.Checked',
      );
    const { problems } = await inspectCatalog(await schemas({ 't-saga.v1.saga.yaml': v1, 't-saga.saga.yaml': swapped }));
    expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      expect.stringMatching(/^steps\.check\.completed: com\.acme\.t\.Paid is steps\.pay\.completed in version 1 .*use a new event type$/),
      expect.stringMatching(/^steps\.pay\.participant: step pay belongs to pay-service in version 1;/),
    ]);
  });
});

it('refuses a version that runs the steps it shares with the previous one in another order', async () => {
  const { problems } = await inspectCatalog(await schemas({ 't-saga.v1.saga.yaml': v1Two, 't-saga.saga.yaml': v2 }));
  expect(problems.map((p) => p.message)).toEqual([
    'steps check, pay run in another order in version 1 (pay, check); steps both versions share keep their order and their parallel groups',
  ]);
});

it('refuses a version that puts shared steps into a parallel group, or makes a shared step optional', async () => {
  // pay ∥ check in version 2: check's failure would compensate pay in v2 sagas only.
  const grouped = `saga: t-saga
version: 2
start: com.acme.t.Placed
steps:
  - parallel: both
    branches:
      - name: pay
        participant: pay-service
        completed: com.acme.t.Paid
        failed: com.acme.t.PayFailed
      - name: check
        participant: fraud-service
        optional: true
        completed: com.acme.t.Checked
        failed: com.acme.t.CheckFailed
end:
  completed: com.acme.t.Done
  aborted: com.acme.t.Aborted
`;
  const { problems } = await inspectCatalog(await schemas({ 't-saga.v1.saga.yaml': v1Two, 't-saga.saga.yaml': grouped }));
  expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
    expect.stringMatching(
      /^steps\.check\.optional: step check is not optional in version 1; a step keeps whether its failure fails the saga/,
    ),
    'steps: steps check ∥ pay run in another order in version 1 (pay, check); steps both versions share keep their order and their parallel groups',
  ]);
  // The same group in both versions, branches listed in another order, is the same layout.
  const v1Grouped = grouped.replace('version: 2\n', '');
  const v2Grouped = grouped.replace('version: 2', 'version: 2\ndeadline: 5m');
  expect((await inspectCatalog(await schemas({ 't-saga.v1.saga.yaml': v1Grouped, 't-saga.saga.yaml': v2Grouped }))).problems).toEqual([]);
});

describe('contract changes against a baseline (troupe-schemas check)', () => {
  it('accepts a new version next to the old, and refuses a version changed in place or a newest version going down', async () => {
    const deployed = await loadCatalog(await schemas({ 't-saga.saga.yaml': v1 }));
    const next = await loadCatalog(await schemas({ 't-saga.v1.saga.yaml': v1, 't-saga.saga.yaml': v2 }));
    expect(contractChanges(deployed.contracts, next.contracts).map((c) => [c.version, c.level])).toEqual([
      [1, 'ok'],
      [2, 'ok'],
    ]);
    const inPlace = await loadCatalog(await schemas({ 't-saga.saga.yaml': v2.replace('version: 2\n', '') }));
    const summary = (changes: ReturnType<typeof contractChanges>) => changes.map((c) => `${c.level} v${c.version}: ${c.message}`);
    const changedInPlace = summary(contractChanges(deployed.contracts, inPlace.contracts));
    expect(changedInPlace).toHaveLength(1);
    expect(changedInPlace[0]).toMatch(/^incompatible v1: version 1 changed .*save the change as version 2/);
    const wentDown = summary(contractChanges(next.contracts, deployed.contracts));
    expect(wentDown).toHaveLength(3);
    expect(wentDown[0]).toBe('ok v1: version 1 unchanged');
    expect(wentDown[1]).toMatch(/^incompatible v1: newest version went down from 2 to 1/);
    expect(wentDown[2]).toMatch(/^note v2: version 2 removed/);
  });

  it('refuses turning steps into a parallel group or a step optional in place', async () => {
    const deployed = await loadCatalog(await schemas({ 't-saga.saga.yaml': v2 }));
    const optional = await loadCatalog(
      await schemas({
        't-saga.saga.yaml': v2.replace('    participant: fraud-service\n', '    participant: fraud-service\n    optional: true\n'),
      }),
    );
    expect(contractChanges(deployed.contracts, optional.contracts).map((c) => c.level)).toEqual(['incompatible']);
    const branched = v2
      .replace('  - name: check\n', '  - parallel: both\n    branches:\n  - name: check\n')
      .replace(
        /\n {2}- name: check\n((?: {4}.*\n)+)/,
        (_m, body: string) => `\n      - name: check\n${body.replace(/^ {4}/gm, '        ')}`,
      )
      .replace(/\n {2}- name: pay\n((?: {4}.*\n)+)/, (_m, body: string) => `\n      - name: pay\n${body.replace(/^ {4}/gm, '        ')}`);
    const grouped = await loadCatalog(await schemas({ 't-saga.saga.yaml': branched }));
    expect(grouped.contracts[0]?.contract.steps.map((s) => s.parallel)).toEqual(['both', 'both']);
    expect(contractChanges(deployed.contracts, grouped.contracts).map((c) => c.level)).toEqual(['incompatible']);
  });
});
