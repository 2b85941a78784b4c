import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningService, startService } from '@simplebank/chassis';
import { waitFor } from '@simplebank/chassis/testing';
import consoleService from '@simplebank/console';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, call, noFaults, setFaults, url } from './system.ts';

// The compose demo's landing page in Chromium, its fault switches acting on the running
// simulator and fees. k6 cannot be installed here: its REST API (GET and PATCH /v1/status, the
// JSON:API shape `k6 pause` and `k6 resume` use) is played by a stand-in that records each change.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');

let browser: Browser;
let consoleApp: RunningService;
let k6: Server;
const k6Status = { paused: false, running: true, vus: 4 };
const k6Changes: unknown[] = [];

beforeAll(async () => {
  k6 = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      if (request.url !== '/v1/status') return response.writeHead(404).end();
      if (request.method === 'PATCH') {
        const change = JSON.parse(body) as { data: { attributes: { paused: boolean } } };
        k6Changes.push(change);
        k6Status.paused = change.data.attributes.paused;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ data: { type: 'status', id: 'default', attributes: k6Status } }));
    });
  });
  k6.listen(0, '127.0.0.1');
  await once(k6, 'listening');
  consoleApp = await startService(consoleService, {
    env: {
      ...(process.env as Record<string, string>),
      PORT: '0',
      LOG_LEVEL: 'silent',
      PUBLIC_HOST: '127.0.0.1',
      LOADGEN_URL: `http://127.0.0.1:${(k6.address() as { port: number }).port}`,
      EXCHANGE_URL: url.exchange,
      FEES_URL: url.fees,
      ADMIN_TOKEN: adminToken,
    },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
}, 60_000);

afterAll(async () => {
  await setFaults(noFaults);
  await call(
    url.fees,
    'PUT',
    '/admin/faults',
    { handler_delay_ms: 0, handler_failure_rate: 0 },
    { admin: true },
  );
  await browser?.close();
  await consoleApp?.stop();
  k6?.close();
});

const consoleUrl = () => {
  const address = consoleApp.app.server.address() as { port: number };
  return `http://127.0.0.1:${address.port}/`;
};

describe('the demo console (landing page)', () => {
  it('links every UI, starts and stops the load, and switches a fault scenario on the running simulator', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(consoleUrl());

    // every UI, each a link
    const links = page.getByRole('link');
    await expect.poll(() => links.count()).toBe(10);
    const titles = await links.allTextContents();
    for (const ui of [
      'Place-order screen',
      'Jaeger',
      'Kibana',
      'RabbitMQ management',
      'Prometheus',
      'Alertmanager',
    ])
      expect(titles).toContain(ui);
    expect(titles.filter((t) => t.startsWith('Grafana: '))).toHaveLength(4);
    mkdirSync(SCREENSHOTS, { recursive: true });

    // the load: running, stopped with a click (k6 told paused), started again
    const load = page.locator('#load');
    await expect.poll(() => load.textContent()).toBe('Stop');
    await load.click();
    await expect.poll(() => load.textContent()).toBe('Start');
    await expect.poll(() => page.locator('#load-state').textContent()).toContain('Paused');
    expect(k6Changes.at(-1)).toEqual({
      data: { type: 'status', id: 'default', attributes: { paused: true } },
    });
    await load.click();
    await expect.poll(() => load.textContent()).toBe('Stop');
    expect(k6Status.paused).toBe(false);

    // a fault scenario: the simulator's faults change with the switch, and back
    const exchangeDown = page.locator('button[data-scenario="exchange-down"]');
    await expect.poll(() => exchangeDown.getAttribute('aria-pressed')).toBe('false');
    await exchangeDown.click();
    await expect.poll(() => exchangeDown.getAttribute('aria-pressed')).toBe('true');
    const faults = async () =>
      (await call<{ error_rate: number }>(url.exchange, 'GET', '/admin/faults', undefined, { admin: true }))
        .body;
    expect((await faults()).error_rate).toBe(1);
    // and says what to watch
    expect(await page.getByText(/circuit breaker to the exchange opens/).count()).toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, 'console.png'), fullPage: true });
    await exchangeDown.click();
    await expect.poll(() => exchangeDown.getAttribute('aria-pressed')).toBe('false');
    await waitFor('the exchange back', async () => (await faults()).error_rate === 0);

    // one on fees' handler switch too
    const slowFees = page.locator('button[data-scenario="slow-fees"]');
    await slowFees.click();
    await expect.poll(() => slowFees.getAttribute('aria-pressed')).toBe('true');
    const feeFaults = await call<{ handler_delay_ms: number }>(url.fees, 'GET', '/admin/faults', undefined, {
      admin: true,
    });
    expect(feeFaults.body.handler_delay_ms).toBe(2000);
    await slowFees.click();
    await expect.poll(() => slowFees.getAttribute('aria-pressed')).toBe('false');
  }, 60_000);

  it('says what does not answer instead of failing, and refuses an unknown scenario', async () => {
    k6.close();
    await once(k6, 'close');
    const { body } = await call<{ load: { error?: string } }>(consoleUrl(), 'GET', 'api/console');
    expect(body.load.error).toMatch(/load generator did not answer/);
    const unknown = await call<{ error: { code: string } }>(consoleUrl(), 'PUT', 'api/scenarios/nonsense', {
      on: true,
    });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'unknown_scenario']);
  });
});
