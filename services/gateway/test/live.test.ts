import { createHash, randomUUID } from 'node:crypto';
import { adminHeaders, metricSum, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import type { Account, Order, PlaceOrderCommand } from '@simplebank/contracts';
import { Redis } from 'ioredis';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../src/edge/auth.ts';
import { fingerprintOf, IDEMPOTENCY_TTL_MS, orderIdFor, UNANSWERED_MAX_MS } from '../src/edge/idempotency.ts';
import { type System, startSystem } from './system.ts';

// A gateway in front of the real services of the saga (system.ts), on real RabbitMQ, PostgreSQL
// and Redis: sign-in, ownership, idempotency keys and the customer cancel, end to end.
let system: System;
let redis: Redis;

beforeAll(async () => {
  // the fee schedule fetched once: the round-trip counts below see no background fetch of it
  system = await startSystem(await testEnvironment('gateway_live'), 'gateway_live', {
    FEE_SCHEDULE_REFRESH_MS: '3600000',
  });
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { keyPrefix: system.prefix });
}, 60_000);

afterAll(async () => {
  await redis?.quit();
  await system?.stop();
});

type Method = 'GET' | 'POST' | 'DELETE';
const send = (
  method: Method,
  url: string,
  { token, body, headers = {} }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) =>
  system.gateway.app.inject({
    method,
    url,
    headers: {
      ...headers,
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });

async function signIn(username: string, password: string): Promise<string> {
  const response = await send('POST', '/auth/token', { body: { username, password } });
  expect(response.statusCode).toBe(200);
  return response.json().access_token;
}

interface Customer {
  username: string;
  accountId: string;
  token: string;
}

/** A customer of the test's own with one funded account (opened with the owner and a password). */
async function newCustomer(
  cash = '10000.00',
  positions: { symbol: string; quantity: number }[] = [{ symbol: 'ACME', quantity: 50 }],
): Promise<Customer> {
  const username = `cust-${randomUUID().slice(0, 8)}`;
  const accountId = `acc-${randomUUID().slice(0, 8)}`;
  const password = `${username}-password`;
  const opened = await system.accounts.app.inject({
    method: 'POST',
    url: '/accounts',
    headers: adminHeaders,
    payload: { account_id: accountId, owner: username, password, cash, positions },
  });
  expect(opened.statusCode).toBe(201);
  return { username, accountId, token: await signIn(username, password) };
}

const orderOf = async (customer: Customer, orderId: string): Promise<Order> => {
  const response = await send('GET', `/orders/${orderId}`, { token: customer.token });
  expect(response.statusCode).toBe(200);
  return response.json();
};
const ordersOf = async (customer: Customer): Promise<Order[]> =>
  (await send('GET', `/orders?account_id=${customer.accountId}&limit=100`, { token: customer.token })).json()
    .orders;
const accountOf = async (customer: Customer): Promise<Account> =>
  (await send('GET', `/accounts/${customer.accountId}`, { token: customer.token })).json();

const setFaults = async (faults: Record<string, number>) => {
  const response = await system.exchange.app.inject({
    method: 'PUT',
    headers: adminHeaders,
    url: '/admin/faults',
    payload: faults,
  });
  expect(response.statusCode).toBe(200);
};

describe('signing in', () => {
  it('gives a demo customer a bearer token for their password', async () => {
    const response = await send('POST', '/auth/token', {
      body: { username: 'alice', password: 'alice-password' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json();
    expect(body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900 });
    const claims = decodeJwt(body.access_token);
    expect(claims).toMatchObject({ sub: 'alice', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(900);

    const accounts = await send('GET', '/accounts', { token: body.access_token });
    expect(accounts.statusCode).toBe(200);
    expect(accounts.json().accounts.map((a: Account) => a.account_id)).toEqual(['acc-alice']);
  });

  it('answers a wrong password and an unknown username alike', async () => {
    const wrong = await send('POST', '/auth/token', {
      body: { username: 'alice', password: 'bob-password' },
    });
    const unknown = await send('POST', '/auth/token', { body: { username: 'mallory', password: 'x' } });
    for (const response of [wrong, unknown]) {
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({
        error: { code: 'invalid_credentials', message: 'wrong username or password' },
      });
    }
  });

  it("lists the signed-in customer's accounts, and only theirs, valued at the latest quotes", async () => {
    const customer = await newCustomer('100.00', [{ symbol: 'ACME', quantity: 2 }]);
    const second = `acc-${randomUUID().slice(0, 8)}`;
    const opened = await system.accounts.app.inject({
      method: 'POST',
      url: '/accounts',
      headers: adminHeaders,
      payload: { account_id: second, owner: customer.username, cash: '5.00' },
    });
    expect(opened.statusCode).toBe(201);
    const response = await send('GET', '/accounts', { token: customer.token });
    expect(response.statusCode).toBe(200);
    const accounts: Account[] = response.json().accounts;
    expect(accounts.map((a) => a.account_id).sort()).toEqual([customer.accountId, second].sort());
    expect(accounts.every((a) => a.owner === customer.username)).toBe(true);
    const first = accounts.find((a) => a.account_id === customer.accountId);
    expect(first?.positions).toEqual([
      { symbol: 'ACME', quantity: 2, reserved: 0, current_value: expect.stringMatching(/^\d+\.\d{2}$/) },
    ]);
  });
});

describe("another customer's accounts and orders do not exist", () => {
  let owner: Customer;
  let other: Customer;
  let orderId: string;

  beforeAll(async () => {
    [owner, other] = await Promise.all([newCustomer(), newCustomer()]);
    const placed = await send('POST', '/shares/sell', {
      token: owner.token,
      body: { account_id: owner.accountId, symbol: 'ACME', quantity: 1 },
    });
    expect(placed.statusCode).toBe(202);
    orderId = placed.json().order_id;
  });

  /** What the other customer gets for the owner's resource, and for one that does not exist. */
  const both = async (
    method: Method,
    url: (id: string) => string,
    missing: string,
    owned: string,
    body?: unknown,
  ) => {
    const theirs = await send(method, url(owned), { token: other.token, body });
    const none = await send(method, url(missing), { token: other.token, body });
    return { theirs, none };
  };

  it('GET /accounts/{id}: 404 unknown_account, as for an account that does not exist', async () => {
    const { theirs, none } = await both('GET', (id) => `/accounts/${id}`, 'acc-none', owner.accountId);
    expect(theirs.statusCode).toBe(404);
    expect(theirs.json()).toEqual({
      error: { code: 'unknown_account', message: `no account ${owner.accountId}` },
    });
    expect(none.json()).toEqual({ error: { code: 'unknown_account', message: 'no account acc-none' } });
    expect((await send('GET', `/accounts/${owner.accountId}`, { token: owner.token })).statusCode).toBe(200);
  });

  it('GET /orders/{id}: 404 order_not_found, as for an order that does not exist', async () => {
    const missing = randomUUID();
    const { theirs, none } = await both('GET', (id) => `/orders/${id}`, missing, orderId);
    expect(theirs.statusCode).toBe(404);
    expect(theirs.json()).toEqual({ error: { code: 'order_not_found', message: `no order ${orderId}` } });
    expect(none.json()).toEqual({ error: { code: 'order_not_found', message: `no order ${missing}` } });
    expect((await orderOf(owner, orderId)).order_id).toBe(orderId);
  });

  it('GET /orders?account_id=: 404 unknown_account, as for an account that does not exist', async () => {
    const { theirs, none } = await both(
      'GET',
      (id) => `/orders?account_id=${id}`,
      'acc-none',
      owner.accountId,
    );
    expect(theirs.statusCode).toBe(404);
    expect(theirs.json().error.code).toBe('unknown_account');
    expect(none.json().error.code).toBe('unknown_account');
    expect((await ordersOf(owner)).map((o) => o.order_id)).toContain(orderId);
  });

  it('DELETE /orders/{id}: 404 order_not_found, and the order is not touched', async () => {
    const { theirs } = await both('DELETE', (id) => `/orders/${id}`, randomUUID(), orderId);
    expect(theirs.statusCode).toBe(404);
    expect(theirs.json()).toEqual({ error: { code: 'order_not_found', message: `no order ${orderId}` } });
    const { rows } = await system.orders.context.pool.query(
      'SELECT cancel_requested_at FROM orders WHERE order_id = $1',
      [orderId],
    );
    expect(rows[0].cancel_requested_at).toBeNull();
  });

  it.each(['sell', 'buy'])(
    'POST /shares/%s on their account: 422 unknown_account, nothing created',
    async (side) => {
      const before = (await ordersOf(owner)).length;
      const body = (account_id: string) => ({ account_id, symbol: 'ACME', quantity: 1 });
      const theirs = await send('POST', `/shares/${side}`, {
        token: other.token,
        body: body(owner.accountId),
      });
      const none = await send('POST', `/shares/${side}`, { token: other.token, body: body('acc-none') });
      expect(theirs.statusCode).toBe(422);
      expect(theirs.json()).toEqual({
        error: { code: 'unknown_account', message: `no account ${owner.accountId}` },
      });
      expect(none.json()).toEqual({ error: { code: 'unknown_account', message: 'no account acc-none' } });
      expect(await ordersOf(owner)).toHaveLength(before);
    },
  );
});

describe('Idempotency-Key on POST /shares/*', () => {
  const sell = (customer: Customer, key: string, quantity = 1, side = 'sell') =>
    send('POST', `/shares/${side}`, {
      token: customer.token,
      headers: { 'idempotency-key': key },
      body: { account_id: customer.accountId, symbol: 'ACME', quantity },
    });
  const redisKeyOf = (customer: Customer, key: string) =>
    `idempotency:${customer.username}:${createHash('sha256').update(key).digest('hex')}`;

  it('answers a retry with the first response and creates one order', async () => {
    const customer = await newCustomer();
    const key = randomUUID();
    const first = await sell(customer, key);
    expect(first.statusCode).toBe(202);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await sell(customer, key);
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    // the order id is derived from (customer, key), and the answer is kept for 24 h
    expect(first.json().order_id).toBe(orderIdFor(customer.username, key));
    const ttl = await redis.pttl(redisKeyOf(customer, key));
    expect(ttl).toBeGreaterThan(IDEMPOTENCY_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(IDEMPOTENCY_TTL_MS);
    expect((await ordersOf(customer)).map((o) => o.order_id)).toEqual([first.json().order_id]);
  });

  it('writes nothing back for an accepted order: the claim stays, and the order itself is the answer', async () => {
    const customer = await newCustomer();
    const key = randomUUID();
    expect((await sell(customer, key)).statusCode).toBe(202);
    const entry = JSON.parse((await redis.get(redisKeyOf(customer, key))) ?? 'null');
    expect(entry).toEqual({ fingerprint: expect.any(String), state: 'in_progress' });
    const again = await sell(customer, key);
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual({ order_id: orderIdFor(customer.username, key), status: 'created' });
  });

  it('tells a retry to wait while the claim is young and has no order; takes over an abandoned one', async () => {
    const customer = await newCustomer();
    const key = randomUUID();
    const claim = JSON.stringify({
      fingerprint: fingerprintOf('POST /shares/sell', [customer.accountId, 'ACME', 1]),
      state: 'in_progress',
    });
    // a request that claimed the key a moment ago and is still running
    await redis.set(redisKeyOf(customer, key), claim, 'PX', IDEMPOTENCY_TTL_MS);
    const waiting = await sell(customer, key);
    expect(waiting.statusCode).toBe(409);
    expect(waiting.headers['retry-after']).toBe('1');
    expect(waiting.json().error.code).toBe('request_in_progress');
    expect(await ordersOf(customer)).toHaveLength(0);

    // one that claimed it longer ago than any request runs: its gateway died before placing
    await redis.set(redisKeyOf(customer, key), claim, 'PX', IDEMPOTENCY_TTL_MS - UNANSWERED_MAX_MS - 1000);
    const taken = await sell(customer, key);
    expect(taken.statusCode).toBe(202);
    expect(taken.headers['idempotent-replayed']).toBeUndefined();
    expect(taken.json().order_id).toBe(orderIdFor(customer.username, key));
    expect(await ordersOf(customer)).toHaveLength(1);
  });

  it('refuses the same key for a different request: 422 idempotency_key_reused', async () => {
    const customer = await newCustomer();
    const key = randomUUID();
    expect((await sell(customer, key, 1)).statusCode).toBe(202);
    for (const response of [await sell(customer, key, 2), await sell(customer, key, 1, 'buy')]) {
      expect(response.statusCode).toBe(422);
      expect(response.json().error.code).toBe('idempotency_key_reused');
    }
    expect(await ordersOf(customer)).toHaveLength(1);
  });

  it("keeps each customer's keys apart", async () => {
    const [one, two] = await Promise.all([newCustomer(), newCustomer()]);
    const key = randomUUID();
    const [a, b] = [await sell(one, key), await sell(two, key)];
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    expect(a.json().order_id).not.toBe(b.json().order_id);
  });

  it('creates one order from concurrent duplicates; the others are told it is in progress or get the answer', async () => {
    const customer = await newCustomer();
    const key = randomUUID();
    const responses = await Promise.all(Array.from({ length: 8 }, () => sell(customer, key)));
    const accepted = responses.filter((r) => r.statusCode === 202);
    const waiting = responses.filter((r) => r.statusCode === 409);
    expect(accepted.length + waiting.length).toBe(8);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(new Set(accepted.map((r) => r.json().order_id))).toEqual(
      new Set([orderIdFor(customer.username, key)]),
    );
    for (const response of waiting) {
      expect(response.json().error.code).toBe('request_in_progress');
      expect(response.headers['retry-after']).toBe('1');
    }
    expect(await ordersOf(customer)).toHaveLength(1);
    // once the first has answered, a retry gets its answer
    expect((await sell(customer, key)).json()).toEqual({
      order_id: orderIdFor(customer.username, key),
      status: 'created',
    });
  });

  it('replays a refusal (4xx) as well', async () => {
    const customer = await newCustomer();
    const key = randomUUID();
    const body = { account_id: customer.accountId, symbol: 'NOPE', quantity: 1 };
    const headers = { 'idempotency-key': key };
    const first = await send('POST', '/shares/sell', { token: customer.token, headers, body });
    expect(first.statusCode).toBe(422);
    const again = await send('POST', '/shares/sell', { token: customer.token, headers, body });
    expect(again.statusCode).toBe(422);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
  });

  it('creates no second order when the first answer was lost and the price has moved since', async () => {
    const customer = await newCustomer();
    const key = randomUUID();
    const first = await sell(customer, key);
    expect(first.statusCode).toBe(202);
    const orderId = first.json().order_id;
    const limit = (await orderOf(customer, orderId)).limit_price;

    // the key's record is gone (as after a gateway crash, or past 24 h) and the quote has moved,
    // so the retry computes other terms for the same order id; orders refuses them
    // (order_id_conflict) and the gateway recognises its own earlier order
    await redis.del(redisKeyOf(customer, key));
    const current = await system.market.app.inject({ url: '/market/quotes/ACME' });
    const moved = Math.round(Number(current.json().price) * 100) + 500;
    await system.exchange.app.inject({
      method: 'PUT',
      url: '/admin/prices/ACME',
      headers: adminHeaders,
      payload: { price_cents: moved },
    });
    try {
      await waitFor('the gateway to quote the new price', async () => {
        const board = (await send('GET', '/market/quotes')).json();
        const acme = board.quotes.find((q: { symbol: string }) => q.symbol === 'ACME');
        return Math.round(Number(acme?.price) * 100) === moved;
      });
      const retry = await sell(customer, key);
      expect(retry.statusCode).toBe(202);
      expect(retry.json()).toEqual({ order_id: orderId, status: 'created' });
      expect((await orderOf(customer, orderId)).limit_price).toBe(limit);
      expect(await ordersOf(customer)).toHaveLength(1);

      // the same key for another order, once its record is gone: still refused
      await redis.del(redisKeyOf(customer, key));
      const other = await sell(customer, key, 3);
      expect(other.statusCode).toBe(422);
      expect(other.json().error.code).toBe('idempotency_key_reused');
      expect(await ordersOf(customer)).toHaveLength(1);
    } finally {
      await system.exchange.app.inject({
        method: 'DELETE',
        headers: adminHeaders,
        url: '/admin/prices/ACME',
      });
    }
  });
});

describe('DELETE /orders/{order_id}: the customer cancel', () => {
  afterEach(() => setFaults({ error_rate: 0 }));

  const settled = (customer: Customer, orderId: string) =>
    waitFor(
      `order ${orderId} to finish`,
      async () => {
        const order = await orderOf(customer, orderId);
        return ['executed', 'failed', 'canceled', 'expired'].includes(order.status) ? order : undefined;
      },
      { timeoutMs: 20_000 },
    );
  const chargeOf = async (orderId: string) =>
    (await system.fees.app.inject({ url: `/fees/charges/${orderId}` })).json();

  it('stops an order the exchange has not taken yet: canceled, hold released, fee refunded', {
    timeout: 30_000,
  }, async () => {
    await setFaults({ error_rate: 1 }); // the exchange is down: market keeps the order ready
    const customer = await newCustomer('100.00', [{ symbol: 'ACME', quantity: 10 }]);
    const placed = await send('POST', '/shares/sell', {
      token: customer.token,
      body: { account_id: customer.accountId, symbol: 'ACME', quantity: 4 },
    });
    const orderId = placed.json().order_id;
    await waitFor('the hold and the fee', async () => {
      const account = await accountOf(customer);
      return account.positions[0]?.reserved === 4 && (await chargeOf(orderId)).status === 'charged';
    });

    const cancel = await send('DELETE', `/orders/${orderId}`, { token: customer.token });
    expect(cancel.statusCode).toBe(202);
    expect(cancel.json()).toEqual({ order_id: orderId, status: 'created', cancel: 'requested' });

    // market's attempts went unanswered, so the exchange may hold the order: market withdraws it
    // there first, and the order ends canceled once the exchange answers
    expect((await send('GET', `/orders/${orderId}`, { token: customer.token })).json().status).toBe(
      'created',
    );
    // once market has the cancel it never sends the order again, so the exchange cannot fill it first
    await waitFor('market to hear of the cancel', async () => {
      const placement = (await system.market.app.inject({ url: `/market/placements/${orderId}` })).json();
      return placement.cancel_requested || placement.status === 'canceled';
    });
    await setFaults({ error_rate: 0 });
    const done = await settled(customer, orderId);
    expect(done).toMatchObject({ status: 'canceled', reason: 'canceled_by_customer' });
    await waitFor('the hold to be released and the fee refunded', async () => {
      const account = await accountOf(customer);
      return (
        account.positions[0]?.reserved === 0 &&
        account.cash.reserved === '0.00' &&
        (await chargeOf(orderId)).status === 'refunded'
      );
    });
    const after = await accountOf(customer);
    expect(after.cash.available).toBe('100.00');
    expect(after.positions[0]?.quantity).toBe(10);

    // too late now: 409 with the status it has
    const again = await send('DELETE', `/orders/${orderId}`, { token: customer.token });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toEqual({
      error: { code: 'order_not_cancelable', message: expect.stringContaining('canceled') },
      status: 'canceled',
    });
  });

  it('refuses to cancel an executed order: 409 with status executed', async () => {
    const customer = await newCustomer();
    const placed = await send('POST', '/shares/sell', {
      token: customer.token,
      body: { account_id: customer.accountId, symbol: 'ACME', quantity: 1 },
    });
    const orderId = placed.json().order_id;
    expect((await settled(customer, orderId)).status).toBe('executed');
    const response = await send('DELETE', `/orders/${orderId}`, { token: customer.token });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toEqual({
      error: { code: 'order_not_cancelable', message: `order ${orderId} is executed` },
      status: 'executed',
    });
  });

  it('answers an order that does not exist with 404', async () => {
    const customer = await newCustomer();
    const response = await send('DELETE', `/orders/${randomUUID()}`, { token: customer.token });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('order_not_found');
  });
});

describe('queries passed on to the services that own the data', () => {
  /** How many times market has served GET /market/quotes, by its own metrics. */
  const askedMarket = () =>
    metricSum(system.market, 'http_request_duration_seconds_count', { route: '/market/quotes' });
  const get = (url: string, token?: string) => send('GET', url, token === undefined ? {} : { token });
  const QUOTES_REFRESH_MS = 250; // the gateway's default

  it('answers the quote board from memory: market is asked in the background, not per request', async () => {
    const own = (await system.market.app.inject({ url: '/market/quotes' })).json();
    const before = await askedMarket();
    const started = performance.now();
    for (let i = 0; i < 30; i++) {
      const response = await get('/market/quotes');
      expect(response.statusCode).toBe(200);
      expect(response.json().quotes.map((q: { symbol: string }) => q.symbol)).toEqual(
        own.quotes.map((q: { symbol: string }) => q.symbol),
      );
    }
    const fetches = (await askedMarket()) - before;
    expect(fetches).toBeLessThanOrEqual(Math.ceil((performance.now() - started) / QUOTES_REFRESH_MS) + 2);
    expect(fetches).toBeLessThan(30);
    await waitFor(
      'the background to fetch the board again',
      async () => (await askedMarket()) > before + fetches,
    );
  });

  it('pages through GET /orders with the cursor orders made, as it came', async () => {
    // no shares to sell: the orders fail at T2, which leaves their place in the list unchanged
    const customer = await newCustomer('10.00', []);
    const placed: string[] = [];
    for (const quantity of [1, 2, 3]) {
      const command: PlaceOrderCommand = {
        orderId: randomUUID(),
        accountId: customer.accountId,
        symbol: 'ACME',
        quantity,
        limitPriceCents: 9500,
        maxFeeCents: 500,
      };
      await system.gateway.context.broker.call('orders', 'sell', command, 5000, {
        correlationId: command.orderId,
      });
      placed.push(command.orderId);
    }

    // limit=1: one order a page, each page the same as orders' own, until next_cursor is null
    const seen: string[] = [];
    let query = `account_id=${customer.accountId}&limit=1`;
    for (let page = 1; ; page++) {
      const response = await get(`/orders?${query}`, customer.token);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      const own = (await system.orders.app.inject({ method: 'GET', url: `/orders?${query}` })).json();
      expect(body.orders.map((o: Order) => o.order_id)).toEqual(own.orders.map((o: Order) => o.order_id));
      expect(body.next_cursor).toEqual(own.next_cursor);
      expect(body.orders).toHaveLength(1);
      expect(body.orders[0]).toMatchObject({ account_id: customer.accountId, side: 'sell' });
      seen.push(body.orders[0].order_id);
      if (page === placed.length) {
        expect(body.next_cursor).toBeNull();
        break;
      }
      expect(body.next_cursor).toEqual(expect.stringMatching(/^[A-Za-z0-9_-]+$/));
      query = `account_id=${customer.accountId}&limit=1&cursor=${body.next_cursor}`;
    }
    expect(seen.toSorted()).toEqual(placed.toSorted());

    // without a limit, the default page holds them all, newest first as the pages were
    const all = await get(`/orders?account_id=${customer.accountId}`, customer.token);
    expect(all.json().orders.map((o: { order_id: string }) => o.order_id)).toEqual(seen);
    expect(all.json().next_cursor).toBeNull();
  });

  it("passes on orders' 400 for a cursor it did not make", async () => {
    const customer = await newCustomer('1.00', []);
    const madeUp = Buffer.from(JSON.stringify(['2025-01-01T00:00:00.000Z', 'not-an-order-id'])).toString(
      'base64url',
    );
    for (const cursor of ['bm90LWEtY3Vyc29y', madeUp]) {
      const response = await get(`/orders?account_id=${customer.accountId}&cursor=${cursor}`, customer.token);
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

describe("the order path's round trips", () => {
  /** How many calls the gateway has made to `target`, by its own metrics. */
  const gatewayCalls = (target: string) => metricSum(system.gateway, 'http_client_calls_total', { target });

  const QUOTES_REFRESH_MS = 250; // the gateway's default

  it('places an order with one call, its RPC: owner, quote and fee schedule come from memory', async () => {
    const customer = await newCustomer();
    const order = () =>
      send('POST', '/shares/sell', {
        token: customer.token,
        body: { account_id: customer.accountId, symbol: 'ACME', quantity: 1 },
      });
    expect((await order()).statusCode).toBe(202); // remembers the owner
    const accounts = await gatewayCalls('account-transactions');
    const fees = await gatewayCalls('fees');
    const market = await gatewayCalls('market');
    const started = performance.now();
    for (let i = 0; i < 10; i++) expect((await order()).statusCode).toBe(202);
    const elapsed = performance.now() - started;
    expect(await gatewayCalls('account-transactions')).toBe(accounts);
    expect(await gatewayCalls('fees')).toBe(fees);
    // only the background's fetches of the board, whatever the number of orders
    expect((await gatewayCalls('market')) - market).toBeLessThanOrEqual(
      Math.ceil(elapsed / QUOTES_REFRESH_MS) + 2,
    );
    expect(await ordersOf(customer)).toHaveLength(11);
  });
});
