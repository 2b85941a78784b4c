import { randomUUID } from 'node:crypto';
import { type RunningService, startService } from '@simplebank/chassis';
import { testEnvironment } from '@simplebank/chassis/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import gateway from '../src/service.ts';
import { closedPort } from './network.ts';

// Real RabbitMQ and Redis; every upstream points at a port nothing listens on. Answers of the
// real upstreams are covered by the end-to-end tests.
let service: RunningService;
let redis: Redis;
const prefix = `gateway-test-${randomUUID()}:`;

beforeAll(async () => {
  const nowhere = `http://127.0.0.1:${await closedPort()}`;
  const env = {
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
    ['/orders?account_id=acc-1&before=yesterday'],
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
    ['GET', '/orders?account_id=acc-1&limit=10&before=2025-01-01T00:00:00.000Z'],
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

describe('gateway: quote board', () => {
  it('serves the quotes from Redis for a second, then asks market again', async () => {
    const board = { quotes: [{ symbol: 'ACME', price: '95.00', at: '2025-01-01T00:00:00.000Z' }] };
    await redis.set('quotes', JSON.stringify(board), 'PX', 300);
    const cached = await send('GET', '/market/quotes');
    expect(cached.statusCode).toBe(200);
    expect(cached.json()).toEqual(board);

    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await send('GET', '/market/quotes')).statusCode).toBe(503);
  });
});
