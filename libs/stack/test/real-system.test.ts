import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshVhost } from '@simplebank/chassis/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingInfrastructure } from '../src/infrastructure.ts';
import { SERVICES } from '../src/services.ts';
import { Stack } from '../src/stack.ts';
import { get } from './http.ts';

/**
 * The real system (built services, local RabbitMQ, PostgreSQL and Redis) with two instances of
 * orders, on databases and a virtual host of its own. Skipped when a service is not built or a
 * server is not running.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const built = [
  ...SERVICES.map(({ name }) => join(root, 'services', name, 'dist', 'server.js')),
  join(root, 'libs', 'chassis', 'dist', 'telemetry.js'),
].every((file) => existsSync(file));
const missing = built ? await missingInfrastructure() : ['not built'];

const DATABASE_PREFIX = 'simplebank_stacktest_';
const VHOST = 'simplebank_stacktest';

async function freshDatabases(): Promise<void> {
  const server = process.env.PGHOST_URL ?? 'postgres://postgres@127.0.0.1:5432';
  const client = new pg.Client({ connectionString: `${server}/postgres` });
  await client.connect();
  try {
    for (const service of ['orders', 'account_transactions', 'fees', 'market', 'stock_exchange']) {
      await client.query(`DROP DATABASE IF EXISTS "${DATABASE_PREFIX}${service}" WITH (FORCE)`);
    }
  } finally {
    await client.end();
  }
}

async function call<T>(url: string, method: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: (await response.json()) as T };
}

describe.skipIf(missing.length > 0)('the real system with two instances of orders', () => {
  /** Per orders instance, the routes of the requests it logged. */
  const routes: string[][] = [[], []];
  const tail: string[] = [];
  let stack: Stack;

  beforeAll(async () => {
    const [amqpUrl] = await Promise.all([freshVhost(VHOST), freshDatabases()]);
    stack = new Stack({
      root,
      portOffset: 16_000,
      instances: { orders: 2 },
      env: {
        DATABASE_PREFIX,
        AMQP_URL: amqpUrl,
        REDIS_PREFIX: `stacktest-${Date.now()}:`,
        LOG_LEVEL: 'debug',
        OTEL_SDK_DISABLED: 'true',
      },
      serviceEnv: { 'stock-exchange': { FILL_DELAY_MS: '100' } },
      onLine: (service, line, _stream, instance) => {
        tail.push(`${service}#${instance + 1} ${line}`);
        if (tail.length > 50) tail.shift();
        if (service !== 'orders' || !line.includes('request handled')) return;
        routes[instance]?.push(String(JSON.parse(line).route));
      },
    });
    try {
      await stack.start();
    } catch (error) {
      await stack.stop();
      throw new Error(`${(error as Error).message}\n${tail.join('\n')}`);
    }
  }, 60_000);

  afterAll(() => stack?.stop(), 30_000);

  it('both instances of orders answer through its URL, round robin', async () => {
    // a route each instance logs (health, metrics and version requests are not logged one by one)
    for (let i = 0; i < 4; i++)
      expect((await get(`${stack.urls.orders}/orders/${randomUUID()}`)).status).toBe(404);
    const counts = () => routes.map((r) => r.filter((route) => route === '/orders/:order_id').length);
    await expect.poll(() => counts().reduce((a, b) => a + b)).toBe(4);
    // 2 and 2, unless something else connected to orders in between
    expect(Math.min(...counts())).toBeGreaterThan(0);
  });

  it('orders go through with two instances, and with one of them stopped', async () => {
    const accountId = `stack-${randomUUID().slice(0, 8)}`;
    const password = `pw-${randomUUID()}`;
    const created = await call(
      `${stack.urls['account-transactions']}/accounts`,
      'POST',
      {
        account_id: accountId,
        owner: accountId,
        password,
        cash: '100.00',
        positions: [{ symbol: 'ACME', quantity: 20 }],
      },
      // an administrative route: the stack's credential
      { authorization: `Bearer ${stack.adminToken}` },
    );
    expect(created.status).toBe(201);
    const signedIn = await call<{ access_token: string }>(`${stack.urls.gateway}/auth/token`, 'POST', {
      username: accountId,
      password,
    });
    expect(signedIn.status).toBe(200);
    const authorization = `Bearer ${signedIn.body.access_token}`;

    const sell = async () => {
      const placed = await call<{ order_id: string }>(
        `${stack.urls.gateway}/shares/sell`,
        'POST',
        { account_id: accountId, symbol: 'ACME', quantity: 1 },
        { authorization, 'idempotency-key': randomUUID() },
      );
      expect(placed.status).toBe(202);
      let status = '';
      await expect
        .poll(
          async () => {
            ({ status } = (
              await call<{ status: string }>(
                `${stack.urls.gateway}/orders/${placed.body.order_id}`,
                'GET',
                undefined,
                {
                  authorization,
                },
              )
            ).body);
            return ['executed', 'failed', 'canceled', 'expired'].includes(status);
          },
          { timeout: 20_000, interval: 200 },
        )
        .toBe(true);
      return status;
    };

    expect(await Promise.all([sell(), sell(), sell()])).toEqual(['executed', 'executed', 'executed']);
    expect(await stack.stopService('orders', 'SIGTERM', 0)).toBe(0);
    expect(await sell()).toBe('executed');
  }, 60_000);
});
