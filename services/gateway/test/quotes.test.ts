import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import accountTransactions from '@simplebank/account-transactions';
import { createLogger, createMetrics, isStale, type RunningService, startService } from '@simplebank/chassis';
import { freshDatabase, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import marketService from '@simplebank/market';
import stockExchange from '@simplebank/stock-exchange';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_JWT_SECRET } from '../src/config.ts';
import { Tokens } from '../src/edge/auth.ts';
import gateway from '../src/service.ts';
import { QuoteBook } from '../src/upstream/quotes.ts';
import { Upstream } from '../src/upstream/upstream.ts';
import { closedPort } from './network.ts';

// The gateway in front of the real market (quoting a real stock exchange) and the real
// account-transactions (its seeded acc-alice: cash 10,000.00, ACME 100, GLOBEX 50), on real Redis
// and RabbitMQ; fees and orders are nowhere, and market comes and goes here. The board is
// fetched every 100 ms and prices orders while it is at most a second old.
const MAX_AGE_MS = 1000;
let exchange: RunningService;
let market: RunningService;
let live: RunningService;
let accounts: RunningService;
let marketUrl: string;
let token: string;
const log = createLogger('gateway', 'silent');
const urlOf = ({ app }: RunningService) => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const send = (method: 'GET' | 'POST', url: string, payload?: object) =>
  live.app.inject({ method, url, payload, headers: { authorization: `Bearer ${token}` } });
const get = (url: string) => send('GET', url);

beforeAll(async () => {
  const env = await testEnvironment('gateway_quotes');
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
    env: {
      ...env,
      DATABASE_URL: await freshDatabase('simplebank_test_gateway_quotes_accounts'),
      DEMO_DATA: 'true',
    },
  });
  const nowhere = `http://127.0.0.1:${await closedPort()}`;
  await waitFor('market to have quotes', async () => {
    const response = await market.app.inject({ url: '/market/quotes' });
    return response.statusCode === 200 && response.json().quotes.length > 0;
  });
  live = await startService(gateway, {
    env: {
      ...env,
      REDIS_PREFIX: `gateway-quotes-test-${randomUUID()}:`,
      MARKET_URL: marketUrl,
      ACCOUNTS_URL: urlOf(accounts),
      ORDERS_URL: nowhere,
      FEES_URL: nowhere,
      QUOTES_REFRESH_MS: '100',
      QUOTES_MAX_AGE_MS: String(MAX_AGE_MS),
    },
    listen: false,
  });
  token = await new Tokens(DEVELOPMENT_JWT_SECRET, 900).issue('alice');
}, 30_000);

afterAll(async () => {
  await live?.stop();
  await accounts?.stop();
  await market?.stop();
  await exchange?.stop();
});

/** A quote book of our own over `url`, as the gateway builds one. */
const bookOver = (url: string, timeoutMs = 1000) =>
  new QuoteBook(
    new Upstream('market', url, timeoutMs, { log, metrics: createMetrics('gateway') }, { retries: 0 }),
    { refreshMs: 60_000, maxAgeMs: MAX_AGE_MS },
    log,
  );

describe('gateway quotes with market up', { timeout: 30_000 }, () => {
  it("answers market's board from memory, fresh; holdings are valued", async () => {
    const response = await get('/market/quotes');
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-data-stale']).toBeUndefined();
    const board = response.json();
    const own = (await market.app.inject({ url: '/market/quotes' })).json();
    expect(board.quotes.map((q: { symbol: string }) => q.symbol)).toEqual(
      own.quotes.map((q: { symbol: string }) => q.symbol),
    );
    expect(board.quotes.every((q: { stale?: boolean }) => q.stale === undefined)).toBe(true);

    const account = (await get('/accounts/acc-alice')).json();
    expect(account.positions[0].current_value).toMatch(/^\d+\.\d{2}$/);
  });

  it('takes an unknown symbol for what it is, and without a fee schedule ever fetched quotes no fee: 503', async () => {
    const unknown = await get('/fees/estimate?side=buy&symbol=NOPE&quantity=1');
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().error).toEqual({ code: 'unknown_symbol', message: 'no quote for symbol NOPE' });
    // fees has never answered this gateway
    const estimate = await get('/fees/estimate?side=buy&symbol=ACME&quantity=1');
    expect(estimate.statusCode).toBe(503);
    expect(estimate.json().error).toEqual({
      code: 'service_unavailable',
      message: expect.stringMatching(/^fees is unavailable/),
    });
  });
});

describe('gateway quotes with market down', { timeout: 30_000 }, () => {
  let last: { quotes: object[] };

  beforeAll(async () => {
    last = (await get('/market/quotes')).json();
    await market.stop();
    // the board ages past QUOTES_MAX_AGE_MS
    await waitFor('the board to go stale', async () => (await get('/market/quotes')).headers['x-data-stale']);
  });

  it('still loads holdings, their positions unvalued rather than valued at a stale price', async () => {
    const response = await get('/accounts/acc-alice');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ account_id: 'acc-alice', cash: { available: '10000.00' } });
    expect(response.json().positions).toEqual([
      { symbol: 'ACME', quantity: 100, reserved: 0, current_value: null },
      { symbol: 'GLOBEX', quantity: 50, reserved: 0, current_value: null },
    ]);
  });

  it('takes no order without a live quote: 503, never a stale price', async () => {
    const order = await send('POST', '/shares/sell', {
      account_id: 'acc-alice',
      symbol: 'ACME',
      quantity: 1,
    });
    expect(order.statusCode).toBe(503);
    expect(order.json().error).toEqual({
      code: 'service_unavailable',
      message: expect.stringMatching(/^market is unavailable: its last quotes are \d+ ms old$/),
    });
    const estimate = await get('/fees/estimate?side=buy&symbol=ACME&quantity=1');
    expect(estimate.statusCode).toBe(503);
    expect(estimate.json().error.message).toMatch(/^market is unavailable/);
  });

  it('answers the quote board with the last it had, each quote stale, with Warning and X-Data-Stale', async () => {
    const response = await get('/market/quotes');
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-data-stale']).toBe('true');
    expect(response.headers.warning).toBe('110 - "Response is Stale"');
    const board = response.json();
    expect(board.quotes.map((q: { symbol: string }) => q.symbol)).toEqual(
      last.quotes.map((q) => (q as { symbol: string }).symbol),
    );
    expect(board.quotes.every((q: { stale?: boolean }) => q.stale === true)).toBe(true);
  });

  it('is a 503 when it never had a board either', async () => {
    const book = bookOver(marketUrl);
    await expect(book.board({ allowStale: true })).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: expect.stringMatching(/^market is unavailable/),
    });
    await expect(book.priceCents('ACME')).rejects.toMatchObject({ statusCode: 503 });
  });
});

describe('a market that stops answering', { timeout: 30_000 }, () => {
  it('slows no request: the last board is read from memory while the fetch waits', async () => {
    // answers one board, then accepts connections and never answers
    let answered = false;
    const board = { quotes: [{ symbol: 'ACME', price: '10.00', at: new Date().toISOString() }] };
    const server: Server = createServer((_request, response) => {
      if (answered) return;
      answered = true;
      response.setHeader('content-type', 'application/json').end(JSON.stringify(board));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const book = new QuoteBook(
      new Upstream(
        'market',
        `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        1000,
        { log, metrics: createMetrics('gateway') },
        { retries: 0 },
      ),
      { refreshMs: 20, maxAgeMs: 200 },
      log,
    );
    try {
      book.start();
      expect(await book.priceCents('ACME')).toBe(1000);
      // the fetches after the first wait on market; the board ages past maxAgeMs meanwhile
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = performance.now();
      const stale = await book.board({ allowStale: true });
      expect(performance.now() - started).toBeLessThan(50);
      expect(isStale(stale)).toBe(true);
      await expect(book.priceCents('ACME')).rejects.toMatchObject({ statusCode: 503 });
    } finally {
      server.closeAllConnections();
      await book.stop();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
