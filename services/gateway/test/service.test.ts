import { randomUUID } from 'node:crypto';
import { type RunningService, startService } from '@simplebank/chassis';
import { testEnvironment } from '@simplebank/chassis/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOARD_KEY, BOARD_TTL_MS } from '../src/quotes.ts';
import gateway from '../src/service.ts';
import { closedPort, type FakeUpstream, fakeUpstream } from './network.ts';

// Real RabbitMQ and Redis; every upstream points at a port nothing listens on. Answers of the
// real upstreams are covered by the end-to-end tests.
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

// A second gateway whose market and orders answer: what it asks them, and what it makes of it.
describe('gateway: with upstreams that answer', () => {
  let live: RunningService;
  let upstream: FakeUpstream;
  let liveRedis: Redis;
  const livePrefix = `gateway-test-${randomUUID()}:`;
  const get = (url: string) => live.app.inject({ method: 'GET', url });

  const board = { quotes: [{ symbol: 'ACME', price: '95.00', at: '2025-01-01T00:00:00.000Z' }] };
  const order = {
    order_id: randomUUID(),
    account_id: 'acc-1',
    side: 'sell',
    symbol: 'ACME',
    quantity: 10,
    status: 'created',
    limit_price: '95.00',
    fee: null,
    fill_price: null,
    reason: null,
    created_at: '2025-01-01T00:00:00.000Z',
    updated_at: '2025-01-01T00:00:00.000Z',
    history: [{ status: 'created', at: '2025-01-01T00:00:00.000Z' }],
  };

  beforeAll(async () => {
    upstream = await fakeUpstream();
    upstream.answers.set('/market/quotes', { status: 200, body: board });
    live = await startService(gateway, {
      env: { ...env, REDIS_PREFIX: livePrefix, ORDERS_URL: upstream.url, MARKET_URL: upstream.url },
      listen: false,
    });
    liveRedis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { keyPrefix: livePrefix });
  });

  afterAll(async () => {
    await liveRedis?.del(BOARD_KEY);
    await liveRedis?.quit();
    await live?.stop();
    await upstream?.close();
  });

  it('caches the quote board in Redis for its own TTL, then asks market again', async () => {
    const askedMarket = () => upstream.requests.filter((url) => url === '/market/quotes').length;
    await liveRedis.del(BOARD_KEY);

    // a miss: market is asked, and the board is cached with the gateway's TTL
    const missed = await get('/market/quotes');
    expect(missed.statusCode).toBe(200);
    expect(missed.json()).toEqual(board);
    expect(askedMarket()).toBe(1);
    const ttl = await liveRedis.pttl(BOARD_KEY);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(BOARD_TTL_MS);
    expect(JSON.parse((await liveRedis.get(BOARD_KEY)) ?? 'null')).toEqual(board);

    // a hit: whatever Redis holds is the answer, and market is not asked
    const cachedBoard = { quotes: [{ ...board.quotes[0], price: '12.34' }] };
    await liveRedis.set(BOARD_KEY, JSON.stringify(cachedBoard), 'PX', 60_000);
    const hit = await get('/market/quotes');
    expect(hit.json()).toEqual(cachedBoard);
    expect(askedMarket()).toBe(1);

    // gone from Redis, as once the TTL lapses: market is asked again and the cache refilled
    await liveRedis.del(BOARD_KEY);
    const again = await get('/market/quotes');
    expect(again.json()).toEqual(board);
    expect(askedMarket()).toBe(2);
    expect(await liveRedis.pttl(BOARD_KEY)).toBeGreaterThan(0);
  });

  it('passes GET /orders on with the cursor as it came, and the page and next_cursor back', async () => {
    const page = { orders: [order], next_cursor: 'WyIyMDI1LTAxLTAxVDAwOjAwOjAwLjAwMFoiXQ' };
    upstream.answers.set('/orders', { status: 200, body: page });
    const cursor = 'WyIyMDI1LTAyLTAxVDAwOjAwOjAwLjAwMFoiXQ';
    const response = await get(`/orders?account_id=acc-1&limit=1&cursor=${cursor}`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(page);
    expect(upstream.requests.at(-1)).toBe(`/orders?account_id=acc-1&limit=1&cursor=${cursor}`);

    upstream.answers.set('/orders', { status: 200, body: { orders: [], next_cursor: null } });
    const first = await get('/orders?account_id=acc-1');
    expect(first.json()).toEqual({ orders: [], next_cursor: null });
    expect(upstream.requests.at(-1)).toBe('/orders?account_id=acc-1&limit=20');
  });

  it("passes on orders' 400 for a cursor it did not make", async () => {
    const error = { error: { code: 'validation_failed', message: 'querystring/cursor must be …' } };
    upstream.answers.set('/orders', { status: 400, body: error });
    const response = await get('/orders?account_id=acc-1&cursor=bm90LWEtY3Vyc29y');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual(error);
  });
});
