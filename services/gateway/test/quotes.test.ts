import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import accountTransactions from '@simplebank/account-transactions';
import { createLogger, createMetrics, isStale, type RunningService, startService } from '@simplebank/chassis';
import { freshDatabase, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import marketService from '@simplebank/market';
import stockExchange from '@simplebank/stock-exchange';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokens } from '../src/auth.ts';
import { DEVELOPMENT_JWT_SECRET } from '../src/config.ts';
import { BOARD_KEY, LAST_BOARD_KEY, quoteBook } from '../src/quotes.ts';
import gateway from '../src/service.ts';
import { Upstream } from '../src/upstream.ts';
import { closedPort } from './network.ts';

// The gateway in front of the real market (quoting a real stock exchange), the real
// account-transactions (its seeded acc-alice: cash 10,000.00, ACME 100, GLOBEX 50), real Redis and
// RabbitMQ; only market comes and goes here.
const prefix = `gateway-quotes-test-${randomUUID()}:`;
let env: Record<string, string>;
let exchange: RunningService;
let market: RunningService;
let live: RunningService;
let accounts: RunningService;
let redis: Redis;
let marketUrl: string;
let token: string;
const log = createLogger('gateway', 'silent');
const urlOf = ({ app }: RunningService) => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const send = (method: 'GET' | 'POST', url: string, payload?: object) =>
  live.app.inject({ method, url, payload, headers: { authorization: `Bearer ${token}` } });
const get = (url: string) => send('GET', url);

beforeAll(async () => {
  env = await testEnvironment('gateway_quotes');
  exchange = await startService(stockExchange, { env: { ...env, PORT: '0' } });
  market = await startService(marketService, {
    env: {
      ...env,
      DATABASE_URL: await freshDatabase('simplebank_test_gateway_quotes_market'),
      EXCHANGE_URL: urlOf(exchange),
    },
  });
  marketUrl = urlOf(market);
  accounts = await startService(accountTransactions, {
    env: { ...env, DATABASE_URL: await freshDatabase('simplebank_test_gateway_quotes_accounts') },
  });
  const nowhere = `http://127.0.0.1:${await closedPort()}`;
  live = await startService(gateway, {
    env: {
      ...env,
      REDIS_PREFIX: prefix,
      MARKET_URL: marketUrl,
      ACCOUNTS_URL: urlOf(accounts),
      ORDERS_URL: nowhere,
      FEES_URL: nowhere,
    },
    listen: false,
  });
  token = await new Tokens(DEVELOPMENT_JWT_SECRET, 900).issue('alice');
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { keyPrefix: prefix });
  await waitFor('market to have quotes', async () => {
    const response = await market.app.inject({ url: '/market/quotes' });
    return response.statusCode === 200 && response.json().quotes.length > 0;
  });
}, 30_000);

afterAll(async () => {
  await redis?.del(BOARD_KEY, LAST_BOARD_KEY);
  await redis?.quit();
  await live?.stop();
  await accounts?.stop();
  await market?.stop();
  await exchange?.stop();
});

/** A quote book of our own over `url`, sharing the gateway's Redis keys. */
const bookOver = (url: string, timeoutMs = 1000) =>
  quoteBook(
    new Upstream('market', url, timeoutMs, { log, metrics: createMetrics('gateway') }, { retries: 0 }),
    redis,
    log,
  );

/** The gateway's `GET /market/quotes` route, answering with the fallback allowed. */
describe('gateway quotes with market up', { timeout: 30_000 }, () => {
  it('answers fresh quotes and remembers the board without expiry; holdings are valued', async () => {
    await redis.del(BOARD_KEY, LAST_BOARD_KEY);
    const response = await get('/market/quotes');
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-data-stale']).toBeUndefined();
    const board = response.json();
    expect(board.quotes.length).toBeGreaterThan(0);
    expect(board.quotes.every((q: { stale?: boolean }) => q.stale === undefined)).toBe(true);
    expect(JSON.parse((await redis.get(LAST_BOARD_KEY)) ?? 'null')).toEqual(board);
    expect(await redis.pttl(LAST_BOARD_KEY)).toBe(-1); // no expiry

    await redis.del(BOARD_KEY);
    const account = (await get('/accounts/acc-alice')).json();
    expect(account.positions[0].current_value).toMatch(/^\d+\.\d{2}$/);
  });
});

describe('gateway quotes with market down', { timeout: 30_000 }, () => {
  beforeAll(async () => {
    // a last known board in Redis, as market left it
    await redis.del(BOARD_KEY);
    await bookOver(marketUrl).board();
    expect(await redis.exists(LAST_BOARD_KEY)).toBe(1);
    await market.stop();
  });

  it('still loads holdings, their positions unvalued rather than valued at a stale price', async () => {
    await redis.del(BOARD_KEY);
    const response = await get('/accounts/acc-alice');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ account_id: 'acc-alice', cash: { available: '10000.00' } });
    expect(response.json().positions).toEqual([
      { symbol: 'ACME', quantity: 100, reserved: 0, current_value: null },
      { symbol: 'GLOBEX', quantity: 50, reserved: 0, current_value: null },
    ]);
  });

  it('takes no order without a live quote: 503, never a stale price', async () => {
    await redis.del(BOARD_KEY);
    const order = await send('POST', '/shares/sell', {
      account_id: 'acc-alice',
      symbol: 'ACME',
      quantity: 1,
    });
    expect(order.statusCode).toBe(503);
    expect(order.json().error).toEqual({
      code: 'service_unavailable',
      message: expect.stringMatching(/^market is unavailable/),
    });
    const estimate = await get('/fees/estimate?side=buy&symbol=ACME&quantity=1');
    expect(estimate.statusCode).toBe(503);
    expect(estimate.json().error.message).toMatch(/^market is unavailable/);
    await expect(bookOver(marketUrl).priceCents('ACME')).rejects.toMatchObject({ statusCode: 503 });
  });

  it('answers the quote board with the last known one, each quote stale, with Warning and X-Data-Stale', async () => {
    await redis.del(BOARD_KEY);
    const last = JSON.parse((await redis.get(LAST_BOARD_KEY)) ?? 'null');
    const book = bookOver(marketUrl);
    const board = await book.board({ allowStale: true });
    expect(board).toEqual({ quotes: last.quotes.map((q: object) => ({ ...q, stale: true })) });
    expect(isStale(board)).toBe(true);
    // without the fallback allowed (holdings), market down is a 503
    await expect(book.board()).rejects.toMatchObject({ statusCode: 503, code: 'service_unavailable' });

    // the gateway's own route
    await redis.del(BOARD_KEY);
    const response = await get('/market/quotes');
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-data-stale']).toBe('true');
    expect(response.headers.warning).toBe('110 - "Response is Stale"');
    expect(response.json()).toEqual(board);
  });

  it('falls back as well when market is slow, or its circuit is open', async () => {
    // slow: accepts the connection and never answers
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      await redis.del(BOARD_KEY);
      const slow = bookOver(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, 100);
      const board = await slow.board({ allowStale: true });
      expect(board.quotes.every((q) => q.stale === true)).toBe(true);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }

    const upstream = new Upstream(
      'market',
      marketUrl,
      1000,
      { log: createLogger('gateway', 'silent'), metrics: createMetrics('gateway') },
      {
        retries: 0,
        breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60_000 },
      },
    );
    const book = quoteBook(upstream, redis, log);
    await book.board({ allowStale: true });
    expect(upstream.circuit).toBe('open');
    const started = Date.now();
    expect(isStale(await book.board({ allowStale: true }))).toBe(true);
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('is a 503 when there is no last known board either', async () => {
    await redis.del(BOARD_KEY, LAST_BOARD_KEY);
    await expect(bookOver(marketUrl).board({ allowStale: true })).rejects.toMatchObject({ statusCode: 503 });
    expect((await get('/market/quotes')).statusCode).toBe(503);
  });
});
