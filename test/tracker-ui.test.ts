import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySagaStore, buildTrackerApp } from '@troupe/saga-tracker';
import type { FastifyInstance } from 'fastify';
import { ORDER_CONTRACT, chain, deadLettered } from '../packages/saga-tracker/src/order-saga.fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = 'test-results/tracker.png';

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

  it('lists sagas with live counts, filters, opens a saga and shows its steps and timeline', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('body[data-ready=true]');

    await expect.poll(() => page.locator('#sagas tbody tr').count()).toBe(7);
    expect(await page.locator('[data-count=nonconforming]').textContent()).toBe('deviating 1');
    expect(await page.locator('tr[data-saga=order-4718] td.deviation').textContent()).toBe('missing-steps');
    expect(await page.locator('[data-count=compensated]').textContent()).toContain('2');
    expect(await page.locator('[data-count=stuck]').textContent()).toBe('stuck 1');
    expect(await page.locator('#stuck-list').textContent()).toContain('order-4714: waiting');

    await page.selectOption('#filters select[name=status]', 'compensated');
    await page.click('#filters button[type=submit]');
    await expect
      .poll(() => page.locator('#sagas tbody tr').allTextContents())
      .toEqual([expect.stringContaining('order-4715'), expect.stringContaining('order-4713')]);

    // Live: a new saga appears in the counts without a reload.
    await store.apply({ events: chain('order-4717', ['placed'], { startMs: Date.now() - 1000 }) });
    await expect.poll(() => page.locator('[data-count=running]').textContent(), { timeout: 10_000 }).toContain('3');

    await page.click('tr[data-saga=order-4713]');
    await page.waitForSelector('#saga-view:not([hidden])');
    await expect.poll(() => page.locator('#steps tbody tr').count()).toBe(3);
    expect(await page.locator('tr[data-step=payment] .badge').textContent()).toBe('compensated');
    expect(await page.locator('tr[data-step=inventory] .badge').textContent()).toBe('failed');
    expect(await page.locator('tr[data-step=shipping] .badge').textContent()).toBe('pending');
    expect(await page.locator('#timeline li').count()).toBe(5);
    expect(await page.locator('#failures').textContent()).toContain('by inventory-service: out of stock');
    expect(await page.locator('#flow svg rect').count()).toBeGreaterThan(5);

    // The list is filtered to compensated sagas now: open the deviating one by its link.
    await page.goto(`${url}#/saga/order-4718`);
    await page.waitForSelector('body[data-ready=true]');
    await expect
      .poll(() => page.locator('#deviations li[data-kind=missing-steps]').textContent())
      .toContain('OrderCompleted ended the saga without steps inventory, shipping completing');

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});
