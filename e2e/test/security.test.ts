import { randomUUID } from 'node:crypto';
import { waitFor } from '@simplebank/chassis/testing';
import type { Account, Order } from '@simplebank/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import {
  account,
  accountWithoutHolds,
  call,
  cancelReachedMarket,
  feeCharge,
  newAccount,
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
