import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type RunningService, startService } from '@simplebank/chassis';
import { freshDatabase, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import type { PlaceOrderCommand } from '@simplebank/contracts';
import marketService from '@simplebank/market';
import ordersService from '@simplebank/orders';
import stockExchange from '@simplebank/stock-exchange';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOARD_KEY, BOARD_TTL_MS } from '../src/quotes.ts';
import gateway from '../src/service.ts';
import { closedPort } from './network.ts';

// Real RabbitMQ and Redis; every upstream of this gateway points at a port nothing listens on.
// The last block starts a second gateway in front of the real market and orders.
let service: RunningService;
let redis: Redis;
let env: Record<string, string>;
const prefix = `gateway-test-${randomUUID()}:`;

beforeAll(async () => {
  const nowhere = `http://127.0.0.1:${await closedPort()}`;
  env = {
    ...(await testEnvironment('gateway')),
    REDIS_PREFIX: prefix,
    ORDERS_URL: nowhere,
    ACCOUNTS_URL: nowhere,
    FEES_URL: nowhere,
    MARKET_URL: nowhere,
  };
  service = await startService(gateway, { env, listen: false });
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { keyPrefix: prefix });
});

afterAll(async () => {
  await redis?.quit();
  await service?.stop();
});

const ORDER = { account_id: 'acc-1', symbol: 'ACME', quantity: 10 };
const send = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
  service.app.inject({
    method,
    url,
    ...(payload === undefined
      ? {}
      : {
          payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
          headers: { 'content-type': 'application/json' },
        }),
  });

describe('gateway: bad input is a 4xx with one error shape', () => {
  it('names the field that is wrong', async () => {
    const extra = await send('POST', '/shares/sell', { ...ORDER, price: '1.00' });
    expect(extra.json().error.message).toBe('body must NOT have additional properties (price)');
    const missing = await send('POST', '/shares/sell', { symbol: 'ACME', quantity: 10 });
    expect(missing.json().error.message).toBe("body must have required property 'account_id'");
    const fraction = await send('POST', '/shares/buy', { ...ORDER, quantity: 1.5 });
    expect(fraction.json().error.message).toBe('body/quantity must be integer');
  });

  it('rejects an empty body', async () => {
    const response = await service.app.inject({ method: 'POST', url: '/shares/sell' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('validation_failed');
  });

  it('rejects malformed JSON', async () => {
    const response = await send('POST', '/shares/sell', '{"account_id": "acc-1",');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'malformed_json', message: expect.any(String) } });
  });

  it('rejects a body that is not JSON', async () => {
    const response = await service.app.inject({
      method: 'POST',
      url: '/shares/buy',
      payload: 'account_id=acc-1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.statusCode).toBe(415);
    expect(response.json().error.code).toBe('unsupported_media_type');
  });

  it.each([
    ['an unknown field', { ...ORDER, price: '1.00' }],
    ['quantity 0', { ...ORDER, quantity: 0 }],
    ['quantity -1', { ...ORDER, quantity: -1 }],
    ['quantity 1.5', { ...ORDER, quantity: 1.5 }],
    ['quantity "ten"', { ...ORDER, quantity: 'ten' }],
    // taken as sent, not coerced: these would otherwise be an order for 10 shares, 1 share, 0 shares
    ['quantity "10"', { ...ORDER, quantity: '10' }],
    ['quantity true', { ...ORDER, quantity: true }],
    ['quantity null', { ...ORDER, quantity: null }],
    ['a numeric account_id', { ...ORDER, account_id: 123 }],
    ['a quantity past the maximum', { ...ORDER, quantity: 1_000_001 }],
    ['no account_id', { symbol: 'ACME', quantity: 10 }],
    ['an account_id with a slash', { ...ORDER, account_id: '../admin' }],
    ['a lower-case symbol', { ...ORDER, symbol: 'acme' }],
    ['an array', [ORDER]],
  ])('rejects an order with %s', async (_, body) => {
    for (const side of ['sell', 'buy']) {
      const response = await send('POST', `/shares/${side}`, body);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: { code: 'validation_failed', message: expect.any(String) } });
    }
  });

  it.each([
    ['/orders/not-a-uuid'],
    ['/orders'],
    ['/orders?account_id=acc-1&limit=0'],
    ['/orders?account_id=acc-1&limit=101'],
    ['/orders?account_id=acc-1&colour=red'],
    ['/orders?account_id=acc-1&before=2025-01-01T00:00:00.000Z'],
    ['/orders?account_id=acc-1&cursor='],
    ['/orders?account_id=acc-1&cursor=not%20a%20cursor'],
    [`/orders?account_id=acc-1&cursor=${'a'.repeat(257)}`],
    ['/accounts/acc$1'],
    ['/fees/estimate?side=hold&symbol=ACME&quantity=10'],
    ['/fees/estimate?side=sell&symbol=ACME&quantity=1.5'],
    ['/fees/estimate?side=sell&symbol=ACME'],
    ['/fees/estimate?side=sell&symbol=ACME&quantity=10&price=1.00'],
  ])('rejects GET %s', async (url) => {
    const response = await send('GET', url);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('validation_failed');
  });

  it('answers an unknown route with not_found', async () => {
    const response = await send('POST', '/shares/short', ORDER);
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('not_found');
  });
});

describe('gateway: upstreams that are down are a 503, never a crash', () => {
  it.each([
    ['POST', '/shares/sell', ORDER],
    ['POST', '/shares/buy', ORDER],
    ['GET', `/orders/${randomUUID()}`],
    ['GET', '/orders?account_id=acc-1&limit=10&cursor=WyIyMDI1LTAxLTAxVDAwOjAwOjAwLjAwMFoiXQ'],
    ['GET', '/accounts/acc-1'],
    ['GET', '/market/quotes'],
    ['GET', '/fees/estimate?side=buy&symbol=ACME&quantity=10'],
  ] as const)('%s %s', async (method, url, body?: unknown) => {
    const response = await send(method, url, body);
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      error: { code: 'service_unavailable', message: expect.stringMatching(/is unavailable/) },
    });
  });

  it('still answers health checks', async () => {
    const response = await send('GET', '/health/ready');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ready', checks: { redis: 'up', broker: 'up' } });
  });
});

// A second gateway in front of the real market (quoting a real stock exchange) and orders, each
// started with the chassis as in production, on its own database, all in the suite's vhost.
describe('gateway: with upstreams that answer', { timeout: 30_000 }, () => {
  let exchange: RunningService;
  let market: RunningService;
  let orders: RunningService;
  let live: RunningService;
  let liveRedis: Redis;
  const livePrefix = `gateway-test-${randomUUID()}:`;
  const get = (url: string) => live.app.inject({ method: 'GET', url });
  const urlOf = ({ app }: RunningService) => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  beforeAll(async () => {
    const [marketDb, ordersDb] = await Promise.all([
      freshDatabase('simplebank_test_gateway_market'),
      freshDatabase('simplebank_test_gateway_orders'),
    ]);
    exchange = await startService(stockExchange, { env: { ...env, PORT: '0' }, listen: true });
    market = await startService(marketService, {
      env: { ...env, DATABASE_URL: marketDb, EXCHANGE_URL: urlOf(exchange) },
      listen: true,
    });
    orders = await startService(ordersService, { env: { ...env, DATABASE_URL: ordersDb }, listen: true });
    live = await startService(gateway, {
      env: { ...env, REDIS_PREFIX: livePrefix, ORDERS_URL: urlOf(orders), MARKET_URL: urlOf(market) },
      listen: false,
    });
    liveRedis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { keyPrefix: livePrefix });
    await waitFor('market to have quotes', async () => {
      const response = await market.app.inject({ method: 'GET', url: '/market/quotes' });
      return response.statusCode === 200 && response.json().quotes.length > 0;
    });
  }, 30_000);

  afterAll(async () => {
    await liveRedis?.del(BOARD_KEY);
    await liveRedis?.quit();
    await live?.stop();
    await orders?.stop();
    await market?.stop();
    await exchange?.stop();
  });

  /** How many times market has served GET /market/quotes, by its own metrics. */
  const askedMarket = async (): Promise<number> => {
    const text = (await market.app.inject({ method: 'GET', url: '/metrics' })).body;
    let count = 0;
    for (const line of text.split('\n')) {
      if (
        line.startsWith('http_request_duration_seconds_count{') &&
        line.includes('route="/market/quotes"')
      ) {
        count += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return count;
  };
  // market records a request once its answer has gone, so the gateway may have it first
  const marketAsked = (times: number) =>
    waitFor(
      `market to have served /market/quotes ${times} times`,
      async () => (await askedMarket()) === times,
    );

  it('caches the quote board in Redis for its own TTL, then asks market again', async () => {
    await liveRedis.del(BOARD_KEY);
    const before = await askedMarket();

    // a miss: market is asked, and its board is cached with the gateway's TTL
    const missed = await get('/market/quotes');
    expect(missed.statusCode).toBe(200);
    const board = missed.json();
    expect(board.quotes.length).toBeGreaterThan(0);
    expect(board.quotes[0]).toEqual({
      symbol: expect.any(String),
      price: expect.any(String),
      at: expect.any(String),
    });
    await marketAsked(before + 1);
    const ttl = await liveRedis.pttl(BOARD_KEY);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(BOARD_TTL_MS);
    expect(JSON.parse((await liveRedis.get(BOARD_KEY)) ?? 'null')).toEqual(board);

    // a hit: whatever Redis holds is the answer, and market is not asked
    const cachedBoard = { quotes: [{ ...board.quotes[0], price: '12.34' }] };
    await liveRedis.set(BOARD_KEY, JSON.stringify(cachedBoard), 'PX', 60_000);
    const hit = await get('/market/quotes');
    expect(hit.json()).toEqual(cachedBoard);
    expect(await askedMarket()).toBe(before + 1);

    // gone from Redis, as once the TTL lapses: market is asked again and the cache refilled
    await liveRedis.del(BOARD_KEY);
    const again = await get('/market/quotes');
    expect(again.statusCode).toBe(200);
    expect(again.json().quotes.map((q: { symbol: string }) => q.symbol)).toEqual(
      board.quotes.map((q: { symbol: string }) => q.symbol),
    );
    await marketAsked(before + 2);
    expect(await liveRedis.pttl(BOARD_KEY)).toBeGreaterThan(0);
  });

  it('pages through GET /orders with the cursor orders made, as it came', async () => {
    const accountId = `acc-${randomUUID()}`;
    const placed: string[] = [];
    for (const quantity of [1, 2, 3]) {
      const command: PlaceOrderCommand = {
        orderId: randomUUID(),
        accountId,
        symbol: 'ACME',
        quantity,
        limitPriceCents: 9500,
        maxFeeCents: 500,
      };
      await live.context.broker.call('orders', 'sell', command, 5000, { correlationId: command.orderId });
      placed.push(command.orderId);
    }

    // limit=1: one order a page, each page the same as orders' own, until next_cursor is null
    const seen: string[] = [];
    let query = `account_id=${accountId}&limit=1`;
    for (let page = 1; ; page++) {
      const response = await get(`/orders?${query}`);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body).toEqual((await orders.app.inject({ method: 'GET', url: `/orders?${query}` })).json());
      expect(body.orders).toHaveLength(1);
      expect(body.orders[0]).toMatchObject({ account_id: accountId, side: 'sell', status: 'created' });
      seen.push(body.orders[0].order_id);
      if (page === placed.length) {
        expect(body.next_cursor).toBeNull();
        break;
      }
      expect(body.next_cursor).toEqual(expect.stringMatching(/^[A-Za-z0-9_-]+$/));
      query = `account_id=${accountId}&limit=1&cursor=${body.next_cursor}`;
    }
    expect(seen.toSorted()).toEqual(placed.toSorted());

    // without a limit, the default page holds them all, newest first as the pages were
    const all = await get(`/orders?account_id=${accountId}`);
    expect(all.json().orders.map((o: { order_id: string }) => o.order_id)).toEqual(seen);
    expect(all.json().next_cursor).toBeNull();
  });

  it("passes on orders' 400 for a cursor it did not make", async () => {
    const madeUp = Buffer.from(JSON.stringify(['2025-01-01T00:00:00.000Z', 'not-an-order-id'])).toString(
      'base64url',
    );
    for (const cursor of ['bm90LWEtY3Vyc29y', madeUp]) {
      const response = await get(`/orders?account_id=acc-1&cursor=${cursor}`);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        error: {
          code: 'validation_failed',
          message: 'querystring/cursor must be the next_cursor of an earlier page',
        },
      });
    }
  });
});
