import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySagaStore, buildTrackerApp } from '@troupe/saga-tracker';
import type { FastifyInstance } from 'fastify';
import {
  ORDER_CONTRACT,
  ORDER_CONTRACT_PARALLEL,
  chain,
  deadLettered,
  withAbort,
} from '../packages/saga-tracker/src/order-saga.fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = 'test-results/tracker.png';
const OVERVIEW = 'test-results/tracker-overview.png';
const PARALLEL = 'test-results/tracker-flow-parallel.png';

// Runs in the page (a string: the tests are compiled without the DOM library). Lists every text of
// the flow graph that overlaps another (deviation badges sit on a corner on purpose) or leaves its box.
const LABEL_PROBLEMS = `(() => {
  const out = [];
  const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const texts = [...document.querySelectorAll('#flow svg text')].filter((t) => !t.closest('.deviation-badge'));
  const boxes = texts.map((t) => ({ label: t.textContent, r: t.getBoundingClientRect() }));
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b) => { if (overlap(a.r, b.r)) out.push(a.label + ' overlaps ' + b.label); }));
  for (const g of document.querySelectorAll('#flow svg g.node')) {
    const box = g.querySelector('rect').getBoundingClientRect();
    for (const t of g.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.left < box.left || r.right > box.right || r.top < box.top || r.bottom > box.bottom) out.push(t.textContent + ' leaves its box');
    }
  }
  return out;
})()`;

async function attributes(page: Page, selector: string, names: readonly string[]): Promise<(string | null)[][]> {
  const rows = await page.locator(selector).all();
  return Promise.all(rows.map((r) => Promise.all(names.map((n) => r.getAttribute(n)))));
}

describe('tracker web page in a real browser', () => {
  let store: MemorySagaStore;
  let app: FastifyInstance;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the browser test needs Chromium at ${CHROMIUM}: install it with 'apt-get install -y chromium chromium-driver' (Debian) or run 'npm test', whose setup does.`,
      );
    }
    store = await MemorySagaStore.create({ contracts: [ORDER_CONTRACT] });
    const now = Date.now();
    const start = (minutesAgo: number): number => now - minutesAgo * 60_000;
    const charged = chain('order-4712', ['placed', 'charged'], { startMs: start(30) });
    await store.apply({
      events: [
        ...chain('order-4711', ['placed', 'charged', 'reserved', 'scheduled', 'completed'], { startMs: start(40), gapMs: 1200 }),
        ...charged,
        deadLettered(charged[1] ?? charged[0]!),
        ...chain('order-4713', ['placed', 'charged', 'outOfStock', 'refunded', 'cancelled'], { startMs: start(20), gapMs: 800 }),
        ...chain('order-4714', ['placed', 'charged'], { startMs: start(10) }),
        ...chain('order-4715', ['placed', 'declined', 'cancelled'], { startMs: start(5) }),
        ...chain('order-4716', ['placed'], { startMs: now - 2_000 }),
        // Completed although inventory and shipping never reported: a deviation from the contract.
        ...chain('order-4718', ['placed', 'charged', 'completed'], { startMs: start(50) }),
        // The refund failed: compensation-failed, the first thing an operator must see.
        ...chain('order-4719', ['placed', 'charged', 'outOfStock', 'refundFailed'], { startMs: start(15), gapMs: 500 }),
        // Payment reported by someone other than its owner: a deviation on the payment step.
        ...chain('order-4720', ['placed', 'charged'], { startMs: now - 3_000 }).map((e) =>
          e.step === 'payment' ? { ...e, source: 'rogue-service' } : e,
        ),
        // Enough completed sagas for a second page of the list.
        ...Array.from({ length: 24 }, (_, i) =>
          chain(`order-50${String(i).padStart(2, '0')}`, ['placed', 'charged', 'reserved', 'scheduled', 'completed'], {
            startMs: start(45) + i * 1000,
          }),
        ).flat(),
      ],
    });
    app = buildTrackerApp({ store, contracts: [ORDER_CONTRACT] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await store?.close();
  });

  it('opens on the overview: activity chart, what needs attention, the contract flow with counts and deviations, then the paged list', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('body[data-ready=true]');

    // The overview comes first on the page, the list last.
    const order = (await attributes(page, '#list-view > section', ['id'])).flat();
    expect(order).toEqual(['overview', 'attention-panel', 'flow-panel', 'list-panel']);
    expect(await page.locator('#activity').getAttribute('data-started')).toBe('33');
    expect(await page.locator('#activity svg rect.bar').count()).toBeGreaterThan(3);

    // Most severe first, each with its reason.
    const attention = await Promise.all(
      (await attributes(page, '#attention tbody tr', ['data-attention', 'data-saga'])).map(async ([kind, id]) => [
        kind,
        id,
        await page.locator(`#attention tr[data-saga=${id ?? ''}] td.reason`).textContent(),
      ]),
    );
    expect(attention[0]).toEqual(['compensation-failed', 'order-4719', 'undoing payment (payment-service): bank offline']);
    expect(attention.map(([kind, id]) => `${kind} ${id}`)).toEqual([
      'compensation-failed order-4719',
      'failed order-4712',
      'stuck order-4714',
      expect.stringMatching(/^non-conforming order-47(18|20)$/),
      expect.stringMatching(/^non-conforming order-47(18|20)$/),
    ]);
    expect(attention.find(([, id]) => id === 'order-4714')?.[2]).toContain('waiting');

    // The contract's steps with live counts, the deviation overlaid on the step it concerns.
    expect((await attributes(page, '#flow g.step', ['data-step'])).flat()).toEqual(['payment', 'inventory', 'shipping']);
    expect(await page.locator('#flow g.step[data-step=inventory]').getAttribute('data-awaiting')).toBe('2');
    expect(await page.locator('#flow .deviation-badge[data-step=payment]').textContent()).toBe('1');
    expect(await page.evaluate(LABEL_PROBLEMS)).toEqual([]);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: OVERVIEW, fullPage: true });

    // The list: 25 a page, then the older ones.
    await expect.poll(() => page.locator('#sagas tbody tr').count()).toBe(25);
    expect(await page.locator('[data-count=nonconforming]').textContent()).toBe('deviating 2');
    expect(await page.locator('[data-count=compensated]').textContent()).toContain('2');
    expect(await page.locator('[data-count=stuck]').textContent()).toBe('stuck 1');
    await page.click('#next');
    await expect.poll(() => page.locator('#sagas tbody tr').count()).toBe(8);
    expect(await page.locator('#page-number').textContent()).toBe('page 2');
    // The oldest saga, on the second page.
    expect(await page.locator('#sagas tr[data-saga=order-4718] td.deviation').textContent()).toBe('missing-steps');
    await page.click('#prev');
    await expect.poll(() => page.locator('#sagas tbody tr').count()).toBe(25);

    await page.selectOption('#filters select[name=status]', 'compensated');
    await page.click('#filters button[type=submit]');
    await expect
      .poll(() => page.locator('#sagas tbody tr').allTextContents())
      .toEqual([expect.stringContaining('order-4715'), expect.stringContaining('order-4713')]);

    // Live: a new saga appears in the counts without a reload.
    await store.apply({ events: chain('order-4717', ['placed'], { startMs: Date.now() - 1000 }) });
    await expect.poll(() => page.locator('[data-count=running]').textContent(), { timeout: 10_000 }).toContain('4');
    await expect.poll(() => page.locator('#activity').getAttribute('data-started'), { timeout: 10_000 }).toBe('34');

    await page.click('#sagas tr[data-saga=order-4713]');
    await page.waitForSelector('#saga-view:not([hidden])');
    await expect.poll(() => page.locator('#steps tbody tr').count()).toBe(3);
    expect(await page.locator('tr[data-step=payment] .badge').textContent()).toBe('compensated');
    expect(await page.locator('tr[data-step=inventory] .badge').textContent()).toBe('failed');
    expect(await page.locator('tr[data-step=shipping] .badge').textContent()).toBe('pending');
    expect(await page.locator('#timeline li').count()).toBe(5);
    expect(await page.locator('#failures').textContent()).toContain('by inventory-service: out of stock');

    // The list is filtered to compensated sagas now: open the deviating one by its link.
    await page.goto(`${url}#/saga/order-4718`);
    await page.waitForSelector('body[data-ready=true]');
    await expect
      .poll(() => page.locator('#deviations li[data-kind=missing-steps]').textContent())
      .toContain('OrderCompleted ended the saga without steps inventory, shipping completing');

    // A saga whose carrier never answered: the page says it timed out, where, why and who acted.
    const timeout = { cause: 'within', step: 'shipping', reason: 'step shipping did not answer within 1m', by: 'order-service' } as const;
    await store.apply({
      events: chain('order-4719', ['placed', 'charged', 'reserved', 'cancelled', 'refunded', 'released'], {
        startMs: Date.now() - 90_000,
      }).map((e) => (e.role === 'end' ? withAbort(e, timeout) : e)),
    });
    await page.goto(`${url}#/saga/order-4719`);
    await page.waitForSelector('body[data-ready=true]');
    await expect
      .poll(() => page.locator('#saga-abort').textContent())
      .toBe('Timed out at step shipping: step shipping did not answer within 1m (order-service acted)');
    expect(await page.locator('#saga-abort').isVisible()).toBe(true);

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('draws a parallel group as one column of branches, each with its own counts, joined before the next step', async () => {
    const parallel = await MemorySagaStore.create({ contracts: [ORDER_CONTRACT_PARALLEL] });
    const now = Date.now();
    await parallel.apply({
      events: [
        ...chain('par-1', ['placed', 'reserved', 'charged', 'scheduled', 'completed'], { startMs: now - 600_000 }),
        // Inventory reserved, payment still awaited: one branch waits, the other is done.
        ...chain('par-2', ['placed', 'reserved'], { startMs: now - 5_000 }),
        // Both branches awaited.
        ...chain('par-3', ['placed'], { startMs: now - 2_000 }),
        // Out of stock after payment: payment refunded, no deviation (branches run at once).
        ...chain('par-4', ['placed', 'charged', 'outOfStock', 'refunded', 'cancelled'], { startMs: now - 300_000 }),
        // Shipped before inventory finished: a deviation on shipping.
        ...chain('par-5', ['placed', 'charged', 'scheduled'], { startMs: now - 200_000 }),
      ],
    });
    const parallelApp = buildTrackerApp({ store: parallel, contracts: [ORDER_CONTRACT_PARALLEL] });
    await parallelApp.listen({ port: 0, host: '127.0.0.1' });
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    try {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${(parallelApp.server.address() as AddressInfo).port}/`);
      await page.waitForSelector('body[data-ready=true]');
      await page.waitForSelector('#flow g.step[data-step=shipping]');
      expect((await attributes(page, '#flow g.step', ['data-step', 'class'])).map(([step, cls]) => [step, cls])).toEqual([
        ['payment', 'node step parallel'],
        ['inventory', 'node step parallel'],
        ['shipping', 'node step'],
      ]);
      const box = async (step: string) => (await page.locator(`#flow g.step[data-step=${step}] rect`).boundingBox()) ?? undefined;
      const [payment, inventory, shipping] = [await box('payment'), await box('inventory'), await box('shipping')];
      // The branches share a column, one above the other; the step after the group is the next column.
      expect(payment?.x).toBe(inventory?.x);
      expect((inventory?.y ?? 0) >= (payment?.y ?? 0) + (payment?.height ?? 0)).toBe(true);
      expect((shipping?.x ?? 0) > (payment?.x ?? 0) + (payment?.width ?? 0)).toBe(true);
      // Live counts per branch: payment awaited by par-2 and par-3, inventory by par-3 and par-5 (shipped without it).
      expect(await attributes(page, '#flow g.step', ['data-step', 'data-awaiting', 'data-completed'])).toEqual([
        ['payment', '2', '2'],
        ['inventory', '2', '2'],
        ['shipping', '0', '2'],
      ]);
      // Fork and join: an edge from the start to each branch, and from each branch to shipping.
      expect(await page.locator('#flow line.edge').count()).toBe(2 + 2 + 2);
      expect(await page.locator('#flow .deviation-badge[data-step=shipping]').textContent()).toBe('1');
      expect(await page.locator('#flow .deviation-badge').count()).toBe(1);
      expect(await page.evaluate(LABEL_PROBLEMS)).toEqual([]);
      // The list says what each saga awaits: both branches at once for par-3.
      await expect.poll(() => page.locator('#sagas tr[data-saga=par-3]').textContent()).toContain('payment ∥ inventory');
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: PARALLEL, fullPage: true });
      expect(existsSync(PARALLEL)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await parallelApp.close();
      await parallel.close();
    }
  });
});
