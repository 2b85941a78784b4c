import { randomUUID } from 'node:crypto';
import { waitFor } from '@simplebank/chassis/testing';
import type { Account, Order } from '@simplebank/contracts';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  account,
  accountWithoutHolds,
  call,
  cancelReachedMarket,
  feeCharge,
  newAccount,
  newCustomer,
  noFaults,
  order,
  placeOrder,
  position,
  setFaults,
  settled,
  signIn,
  tokenOf,
  url,
} from './system.ts';

afterEach(() => setFaults(noFaults));

describe('security at the edge', () => {
  it('signs a demo customer in, and the token opens their accounts only', async () => {
    const token = await signIn('alice', 'alice-password');
    const mine = await call<{ accounts: Account[] }>(url.gateway, 'GET', '/accounts', undefined, { token });
    expect(mine.status).toBe(200);
    expect(mine.body.accounts.map((a) => a.account_id)).toEqual(['acc-alice']);
    const wrong = await call(url.gateway, 'POST', '/auth/token', { username: 'alice', password: 'nope' });
    expect(wrong).toMatchObject({ status: 401, body: { error: { code: 'invalid_credentials' } } });
  });

  it('answers calls without a valid token with 401 and WWW-Authenticate: Bearer', async () => {
    for (const token of [undefined, 'not-a-token']) {
      const response = await call(url.gateway, 'GET', '/accounts/acc-alice', undefined, { token });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(response.body).toMatchObject({ error: { code: 'unauthorized' } });
    }
    // the market and fee estimates are public
    expect((await call(url.gateway, 'GET', '/market/quotes')).status).toBe(200);
  });

  it("answers another customer's account and order with 404, as if they did not exist", async () => {
    const [owner, other] = [
      await newAccount('100.00', [{ symbol: 'ACME', quantity: 5 }]),
      await newAccount('1.00'),
    ];
    const orderId = await placeOrder('sell', owner, 'ACME', 1);
    const as = { token: tokenOf(other) };

    const account = await call(url.gateway, 'GET', `/accounts/${owner}`, undefined, as);
    expect(account).toMatchObject({ status: 404, body: { error: { code: 'unknown_account' } } });
    const theirOrder = await call(url.gateway, 'GET', `/orders/${orderId}`, undefined, as);
    expect(theirOrder).toMatchObject({ status: 404, body: { error: { code: 'order_not_found' } } });
    const list = await call(url.gateway, 'GET', `/orders?account_id=${owner}`, undefined, as);
    expect(list).toMatchObject({ status: 404, body: { error: { code: 'unknown_account' } } });
    const cancel = await call(url.gateway, 'DELETE', `/orders/${orderId}`, undefined, as);
    expect(cancel).toMatchObject({ status: 404, body: { error: { code: 'order_not_found' } } });
    const trade = await call(
      url.gateway,
      'POST',
      '/shares/sell',
      { account_id: owner, symbol: 'ACME', quantity: 1 },
      as,
    );
    expect(trade).toMatchObject({ status: 422, body: { error: { code: 'unknown_account' } } });

    // the owner sees both, and only the one order exists
    expect((await order(orderId)).account_id).toBe(owner);
    const own = await call<{ orders: Order[] }>(
      url.gateway,
      'GET',
      `/orders?account_id=${owner}`,
      undefined,
      {
        token: tokenOf(owner),
      },
    );
    expect(own.body.orders.map((o) => o.order_id)).toEqual([orderId]);
  });

  it('replays an Idempotency-Key: the same order, one order', async () => {
    const accountId = await newAccount('100.00', [{ symbol: 'GLOBEX', quantity: 5 }]);
    const key = randomUUID();
    const first = await placeOrder('sell', accountId, 'GLOBEX', 2, { 'idempotency-key': key });
    const again = await call<{ order_id: string; status: string }>(
      url.gateway,
      'POST',
      '/shares/sell',
      { account_id: accountId, symbol: 'GLOBEX', quantity: 2 },
      { token: tokenOf(accountId), headers: { 'idempotency-key': key } },
    );
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ order_id: first, status: 'created' });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const reused = await call(
      url.gateway,
      'POST',
      '/shares/sell',
      { account_id: accountId, symbol: 'GLOBEX', quantity: 3 },
      { token: tokenOf(accountId), headers: { 'idempotency-key': key } },
    );
    expect(reused).toMatchObject({ status: 422, body: { error: { code: 'idempotency_key_reused' } } });

    expect((await settled(first)).status).toBe('executed');
    const list = await call<{ orders: Order[] }>(
      url.gateway,
      'GET',
      `/orders?account_id=${accountId}`,
      undefined,
      {
        token: tokenOf(accountId),
      },
    );
    expect(list.body.orders.map((o) => o.order_id)).toEqual([first]);
    expect(position(await accountWithoutHolds(accountId), 'GLOBEX').quantity).toBe(3);
  });

  it('cancels an order the exchange has not taken: canceled, hold released, fee refunded', async () => {
    await setFaults({ error_rate: 1 }); // the exchange is down: the order stays created
    const accountId = await newAccount('100.00', [{ symbol: 'ACME', quantity: 10 }]);
    const orderId = await placeOrder('sell', accountId, 'ACME', 6);
    await waitFor('the shares to be held and the fee charged', async () => {
      const held = position(await account(accountId), 'ACME').reserved === 6;
      return held && (await feeCharge(orderId)).status === 'charged';
    });
    expect((await order(orderId)).status).toBe('created');

    const cancel = await call(url.gateway, 'DELETE', `/orders/${orderId}`, undefined, {
      token: tokenOf(accountId),
    });
    expect(cancel).toMatchObject({
      status: 202,
      body: { order_id: orderId, status: 'created', cancel: 'requested' },
    });
    // market's attempts went unanswered, so the exchange may hold the order: it is withdrawn there
    // first, and ends canceled once the exchange answers again
    expect((await order(orderId)).status).toBe('created');
    await cancelReachedMarket(orderId);
    await setFaults({ error_rate: 0 });

    const done = await settled(orderId, 30_000);
    expect(done).toMatchObject({ status: 'canceled', reason: 'canceled_by_customer' });
    // placed first when an attempt in flight as the exchange came back went through; then withdrawn
    expect(done.history.map((h) => h.status)).toEqual(expect.arrayContaining(['created', 'canceled']));
    expect(done.history.map((h) => h.status)).not.toContain('executed');
    const after = await accountWithoutHolds(accountId);
    expect(position(after, 'ACME')).toMatchObject({ quantity: 10, reserved: 0 });
    expect(after.cash).toEqual({ available: '100.00', reserved: '0.00' });
    await waitFor(
      'the fee to be refunded (C3)',
      async () => (await feeCharge(orderId)).status === 'refunded',
    );
  });

  it('refuses to cancel an executed order: 409 with its status', async () => {
    const accountId = await newAccount('100.00', [{ symbol: 'HOOLI', quantity: 3 }]);
    const orderId = await placeOrder('sell', accountId, 'HOOLI', 1);
    expect((await settled(orderId)).status).toBe('executed');
    const cancel = await call(url.gateway, 'DELETE', `/orders/${orderId}`, undefined, {
      token: tokenOf(accountId),
    });
    expect(cancel).toMatchObject({
      status: 409,
      body: { error: { code: 'order_not_cancelable' }, status: 'executed' },
    });
  });
});

/** The first sample of `name` (with `labels`) in a service's /metrics, or undefined. */
async function scrape(base: string, name: string, labels = ''): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(labels) && !l.startsWith('#'));
  return line === undefined ? undefined : Number(line.split(' # ')[0]?.trim().split(' ').at(-1));
}

describe('abuse at the edge', () => {
  it('counts each client behind the proxy alone, by X-Forwarded-For', async () => {
    const remaining = async (client: string) => {
      const answer = await call(url.gateway, 'GET', '/market/quotes', undefined, {
        headers: { 'x-forwarded-for': client },
      });
      expect(answer.status).toBe(200);
      return Number(answer.headers.get('ratelimit-remaining'));
    };
    const [a, b] = [`203.0.113.${1 + Math.floor(Math.random() * 250)}`, '198.51.100.77'];
    const first = await remaining(a);
    expect(await remaining(a)).toBe(first - 1);
    // another client through the same proxy has a budget of its own, whole
    const other = await remaining(b);
    expect(other).toBeGreaterThan(first - 1);
    expect(await remaining(a)).toBe(first - 2);
  });

  it('survives a sign-in flood: account-transactions stays within its memory, and orders are still placed', async () => {
    const accountId = await newAccount('1000.00', [{ symbol: 'ACME', quantity: 10 }]);
    const rss = () => scrape(url.accounts, 'process_resident_memory_bytes');
    const orderBreaker = () =>
      scrape(inject('ops:gateway'), 'circuit_breaker_state', 'target="account-transactions"');
    const baseline = (await rss()) as number;
    expect(baseline).toBeGreaterThan(0);
    expect(await orderBreaker()).toBe(0);

    // 64 clients at once, each from an address of its own and guessing at a username of its own,
    // for 6 s: no per-address or per-username budget stops them, only account-transactions' slots
    const statuses = new Map<number, number>();
    let flooding = true;
    const flooder = async () => {
      while (flooding) {
        const response = await fetch(`${url.gateway}/auth/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-forwarded-for': `198.18.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`,
          },
          body: JSON.stringify({ username: `flood-${randomUUID().slice(0, 12)}`, password: 'guess' }),
          signal: AbortSignal.timeout(15_000),
        });
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    };
    let peakRss = baseline;
    let worstBreaker = 0;
    const watching = (async () => {
      while (flooding) {
        peakRss = Math.max(peakRss, (await rss()) ?? 0);
        worstBreaker = Math.max(worstBreaker, (await orderBreaker()) ?? 0);
        await new Promise((resolve) => setTimeout(resolve, 100)); // the sampling interval
      }
    })();
    const flood = Promise.all(Array.from({ length: 64 }, flooder));
    const stop = setTimeout(() => {
      flooding = false;
    }, 6000);
    try {
      // an order placed in the middle of the flood goes through
      const during = await placeOrder('sell', accountId, 'ACME', 1);
      expect((await settled(during, 30_000)).status).toBe('executed');
      await Promise.all([flood, watching]);
    } finally {
      flooding = false;
      clearTimeout(stop);
    }

    // every answer is one a client can act on: a 401, or a 503 / 429 to retry later, never a hang
    expect([...statuses.keys()].every((status) => [401, 429, 503].includes(status))).toBe(true);
    expect(statuses.get(401) ?? 0).toBeGreaterThan(0);
    // two hashes at once (32 MiB each, outside the heap) and a bounded queue: unbounded, node ran
    // four at once and let every other sign-in wait, 128 MiB and more on top of the baseline
    expect(peakRss - baseline).toBeLessThan(96 * 1024 * 1024);
    // sign-in has its own breaker: the one ownership checks and orders go through stayed closed
    expect(worstBreaker).toBe(0);
    const after = await placeOrder('sell', accountId, 'ACME', 1);
    expect((await settled(after, 30_000)).status).toBe('executed');
    // and sign-in comes back once the flood is over (its breaker half-opens after 5 s, and one
    // sign-in that works closes it), so no later test pays for this one
    const customer = await newCustomer('0.00');
    const token = await waitFor(
      'sign-in to work again after the flood',
      () => signIn(customer.username, customer.password).catch(() => undefined),
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(token.split('.')).toHaveLength(3);
  });
});
