import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { centsToDecimal, decimalToCents } from '@simplebank/contracts';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  cancelReachedMarket,
  signIn as customerToken,
  newCustomer,
  noFaults,
  setFaults,
  url,
} from './system.ts';

// The place-order screen (book §2.4) in Debian's headless Chromium, driven by playwright-core
// (no browser download), against the whole system. Each step leaves a screenshot in
// e2e/screenshots/ (docs/screen.png is one of them, copied by hand).

const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});

afterAll(() => browser?.close());
afterEach(() => setFaults(noFaults));

async function screenPage(viewport = { width: 1280, height: 900 }): Promise<Page> {
  const context = await browser.newContext({ viewport, baseURL: url.gateway });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

/** Signs in with the keyboard only: type, Tab, type, Enter. */
async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Username').fill(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  // as long as the page's own default: a sign-in hashes the password, slow on a busy machine
  await expect
    .poll(() => page.getByRole('heading', { name: 'Holdings' }).isVisible(), { timeout: 20_000 })
    .toBe(true);
}

const holding = (page: Page, symbol: string) =>
  page.locator(`#holdings tbody tr[data-symbol="${symbol}"] td:nth-child(2)`);
const orderRow = (page: Page) => page.locator('#orders tbody tr').first();
const text = async (page: Page, id: string) => (await page.locator(`#${id}`).textContent())?.trim() ?? '';
/** "1,234.56" → cents. */
const cents = (shown: string) => decimalToCents(shown.replaceAll(',', ''));

async function enterOrder(page: Page, side: 'Sell' | 'Buy', symbol: string, quantity: number) {
  await page.getByLabel(side, { exact: true }).check();
  await page.getByLabel('Symbol').selectOption(symbol);
  await page.getByLabel('Quantity').fill(String(quantity));
}

describe('the place-order screen', () => {
  it('signs in, shows holdings and quotes, prices a sell, sends it and follows it to executed live', async () => {
    const customer = await newCustomer('1000.00', [
      { symbol: 'ACME', quantity: 20 },
      { symbol: 'GLOBEX', quantity: 5 },
    ]);
    const page = await screenPage();
    await signIn(page, customer.username, customer.password);

    // 1. holdings, 2. market data
    await expect.poll(() => holding(page, 'ACME').textContent()).toBe('20');
    expect(await text(page, 'cash-available')).toBe('1,000.00');
    await expect.poll(() => page.locator('#quotes tbody tr').count()).toBeGreaterThan(1);
    const acmePrice = await page
      .locator('#quotes tbody tr[data-symbol="ACME"] td:nth-child(2)')
      .textContent();
    expect(acmePrice).toMatch(/^\d{1,3}(,\d{3})*\.\d{2}$/);
    await shot(page, '1-signed-in');

    // the prices move on the screen as they move on the exchange (pinned here, to know how)
    const hooli = page.locator('#quotes tbody tr[data-symbol="HOOLI"]');
    const opened = cents((await hooli.locator('td:nth-child(2)').textContent()) ?? '');
    const pinned = opened + 1234;
    await call(url.exchange, 'PUT', '/admin/prices/HOOLI', { price_cents: pinned });
    try {
      await expect
        .poll(() => hooli.locator('td:nth-child(2)').textContent(), { timeout: 10_000 })
        .toBe(centsToDecimal(pinned));
      // up since the screen opened (by about 12.34, whatever it did before the pin)
      expect(await hooli.locator('td:nth-child(3)').getAttribute('class')).toContain('up');
      expect(await hooli.locator('td:nth-child(3)').textContent()).toMatch(/^(▲ )?\+1\d\.\d{2}$/);
    } finally {
      await call(url.exchange, 'DELETE', '/admin/prices/HOOLI');
    }

    // 3. the cost before sending: value = quantity × price, the fee of the fees service, the total
    await enterOrder(page, 'Sell', 'ACME', 5);
    await expect.poll(() => text(page, 'cost-fee')).toMatch(/^\d[\d,]*\.\d{2}$/);
    const price = cents(await text(page, 'cost-price'));
    const value = cents(await text(page, 'cost-value'));
    const fee = cents(await text(page, 'cost-fee'));
    expect(value).toBe(5 * price);
    expect(cents(await text(page, 'cost-total'))).toBe(value - fee);
    const estimate = await call<{ fee: string }>(
      url.gateway,
      'GET',
      '/fees/estimate?side=sell&symbol=ACME&quantity=5',
    );
    expect(fee).toBe(decimalToCents(estimate.body.fee));
    expect(await text(page, 'cost-after')).toMatch(/^15 ACME and /);
    await shot(page, '2-order-priced');

    // 4. sent; the status changes without a reload (the marker would be gone after one)
    await page.evaluate('window.stayed = true');
    await page.getByRole('button', { name: 'Send order' }).click();
    await expect.poll(() => orderRow(page).getAttribute('data-status')).not.toBeNull();
    await shot(page, '3-order-sent');
    await expect.poll(() => orderRow(page).getAttribute('data-status'), { timeout: 20_000 }).toBe('executed');
    expect(await page.evaluate('window.stayed')).toBe(true);
    // and a screen reader hears it, in one line
    expect(await text(page, 'announce')).toBe('Order sell 5 ACME: executed.');
    // the status shows at once; the fill price follows when the screen has read the whole order
    await expect.poll(() => orderRow(page).textContent()).toMatch(/sell 5 ACME at [\d,]+\.\d{2}/);
    // the trace id links to Jaeger
    const trace = orderRow(page).getByRole('link', { name: /^Trace [0-9a-f]{32} in Jaeger$/ });
    expect(await trace.getAttribute('href')).toMatch(/^http:\/\/localhost:16686\/trace\/[0-9a-f]{32}$/);
    // the holdings follow
    await expect.poll(() => holding(page, 'ACME').textContent(), { timeout: 10_000 }).toBe('15');
    await shot(page, '4-order-executed');
    await page.context().close();
  });

  it('sends an order whose answer was lost again with the same key: one order, not two', async () => {
    const customer = await newCustomer('100.00', [{ symbol: 'ACME', quantity: 3 }]);
    const page = await screenPage();
    await signIn(page, customer.username, customer.password);
    const keys: string[] = [];
    // the first try reaches the gateway and is placed; its answer never reaches the screen
    await page.route('**/shares/sell', async (route) => {
      keys.push(route.request().headers()['idempotency-key'] ?? '');
      if (keys.length > 1) return route.continue();
      await route.fetch();
      return route.abort('connectionreset');
    });
    await enterOrder(page, 'Sell', 'ACME', 1);
    await page.getByRole('button', { name: 'Send order' }).click();
    // the screen says so and sends it again by itself, with the same key
    await expect.poll(() => keys.length, { timeout: 10_000 }).toBe(2);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    const token = await customerToken(customer.username, customer.password);
    const orders = await call<{ orders: unknown[] }>(
      url.gateway,
      'GET',
      `/orders?account_id=${customer.accountId}`,
      undefined,
      { token },
    );
    expect(orders.body.orders).toHaveLength(1);
    await expect.poll(() => page.locator('#orders tbody tr').count()).toBe(1);
    await page.context().close();
  });

  it("shows a failed order's reason in words", async () => {
    const customer = await newCustomer('100.00', [{ symbol: 'ACME', quantity: 3 }]);
    const page = await screenPage();
    await signIn(page, customer.username, customer.password);
    await enterOrder(page, 'Sell', 'ACME', 4);
    // said before sending, too
    await expect.poll(() => text(page, 'cost-after')).toMatch(/— you hold only 3 ACME$/);
    await page.getByRole('button', { name: 'Send order' }).click();
    await expect.poll(() => orderRow(page).getAttribute('data-status'), { timeout: 20_000 }).toBe('failed');
    expect(await orderRow(page).textContent()).toContain('failed — the account does not hold enough shares');
    expect(await text(page, 'announce')).toBe(
      'Order sell 4 ACME: failed (the account does not hold enough shares).',
    );
    expect(
      await orderRow(page)
        .getByRole('button', { name: /^Cancel/ })
        .count(),
    ).toBe(0);
    await shot(page, '5-order-failed');
    await page.context().close();
  });

  it('cancels an order while the exchange is slow', async () => {
    // slow, then failing: market keeps trying, so the order stays created long enough to cancel
    await setFaults({ ...noFaults, latency_ms: 2000, error_rate: 1 });
    const customer = await newCustomer('100.00', [{ symbol: 'ACME', quantity: 10 }]);
    const page = await screenPage();
    await signIn(page, customer.username, customer.password);
    await enterOrder(page, 'Sell', 'ACME', 6);
    await page.getByRole('button', { name: 'Send order' }).click();
    const cancel = orderRow(page).getByRole('button', { name: 'Cancel sell 6 ACME' });
    await shot(page, '6-order-cancellable');
    await cancel.click();
    // market's attempts went unanswered, so it withdraws the order at the exchange before ending it:
    // the order ends canceled once the exchange answers again
    await expect.poll(() => orderRow(page).getAttribute('data-status')).toBe('created');
    await cancelReachedMarket((await orderRow(page).getAttribute('data-order-id')) as string);
    // an attempt still in flight may reach the exchange as it comes back: a price below the sell's
    // limit keeps the order resting there until it is withdrawn, instead of filling first
    await call(url.exchange, 'PUT', '/admin/prices/ACME', { price_cents: 5_000 });
    await setFaults(noFaults);
    try {
      await expect
        .poll(() => orderRow(page).getAttribute('data-status'), { timeout: 30_000 })
        .toBe('canceled');
    } finally {
      await call(url.exchange, 'DELETE', '/admin/prices/ACME');
    }
    expect(
      await orderRow(page)
        .getByRole('button', { name: /^Cancel/ })
        .count(),
    ).toBe(0);
    await expect
      .poll(() => page.locator('#holdings tbody tr[data-symbol="ACME"] td:nth-child(3)').textContent())
      .toBe('0');
    await shot(page, '7-order-canceled');
    await page.context().close();
  });

  it('says what went wrong in words, and fits a phone-sized screen', async () => {
    const page = await screenPage({ width: 390, height: 844 });
    await page.goto('/');
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('not-her-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Wrong username or password.');

    const customer = await newCustomer('50.00', [{ symbol: 'ACME', quantity: 2 }]);
    await signIn(page, customer.username, customer.password);
    await expect.poll(() => page.locator('#quotes tbody tr').count()).toBeGreaterThan(1);
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    // nothing inside a card is cut off either
    const clipped = await page.evaluate(
      "[...document.querySelectorAll('.card')].filter((c) => c.scrollWidth > c.clientWidth).length",
    );
    expect(clipped).toBe(0);
    await shot(page, '8-phone');
    await page.context().close();
  });
});
