import { randomUUID } from 'node:crypto';
import { deadLetterQueue, handlerQueue, type RunningService } from '@simplebank/chassis';
import {
  adminHeaders,
  type EventProbe,
  metricValue,
  outboxDrained,
  publishEvent,
  type ServiceUnderTest,
  serviceUnderTest,
  waitFor,
} from '@simplebank/chassis/testing';
import {
  type Envelope,
  OrderCreated,
  OrderExpired,
  OrderFailed,
  PositionReserved,
  ReservationFailed,
  TradeExecuted,
} from '@simplebank/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import accountTransactions from '../src/service.ts';

let service: RunningService;
let probe: EventProbe;
let amqpUrl: string;

let underTest: ServiceUnderTest;

beforeAll(async () => {
  // with the demo customers (alice, bob, carol), as pnpm start runs it
  underTest = await serviceUnderTest(
    accountTransactions,
    'account-transactions',
    [PositionReserved, ReservationFailed],
    { DEMO_DATA: 'true' },
  );
  ({ service, probe, amqpUrl } = underTest);
});

afterAll(() => underTest?.stop());

/** A fresh funded account per test, so balances can be checked exactly. */
/** saga_compensations_total for one compensation and reason; 0 before the first. */
const compensations = (compensation: string, reason: string) =>
  metricValue(service, 'saga_compensations_total', { compensation, reason });

const openAccount = async (cash: string, positions: { symbol: string; quantity: number }[] = []) => {
  const account_id = `acc-${randomUUID().slice(0, 8)}`;
  const response = await service.app.inject({
    method: 'POST',
    url: '/accounts',
    headers: adminHeaders,
    payload: { account_id, owner: 'tester', cash, positions },
  });
  expect(response.statusCode).toBe(201);
  return account_id;
};

const accountOf = async (accountId: string) =>
  (await service.app.inject({ url: `/accounts/${accountId}` })).json();

const reservationOf = async (orderId: string) => {
  const { rows } = await service.context.pool.query('SELECT * FROM reservations WHERE order_id = $1', [
    orderId,
  ]);
  return rows[0];
};

const handled = (envelope: Envelope) =>
  waitFor(`${envelope.type} ${envelope.id} to be handled`, async () => {
    const { rowCount } = await service.context.pool.query('SELECT 1 FROM inbox WHERE message_id = $1', [
      envelope.id,
    ]);
    return rowCount === 1;
  });

const statusOf = (orderId: string, status: string) =>
  waitFor(`reservation ${orderId} ${status}`, async () => (await reservationOf(orderId))?.status === status);

/** Everything account-transactions has published so far has reached the probe. */
const drained = () => outboxDrained(service, probe, amqpUrl, PositionReserved);

const eventsAbout = (orderId: string) =>
  probe.received.filter((e) => (e.payload as { orderId: string }).orderId === orderId);

const sellOrder = (accountId: string) => ({ ...OrderCreated.example, orderId: randomUUID(), accountId });
// 10 ACME at most 105.00 each, fee allowance 5.95: holds 1,055.95.
const buyOrder = (accountId: string) => ({
  ...sellOrder(accountId),
  side: 'buy' as const,
  limitPriceCents: 10_500,
});

const reserved = async (order: { orderId: string }) => {
  await publishEvent(amqpUrl, OrderCreated, order as typeof OrderCreated.example);
  return probe.next(PositionReserved, (p) => p.orderId === order.orderId);
};

describe('accounts (HTTP)', () => {
  it('seeds the demo customers, with opening balances from equity', async () => {
    expect(await accountOf('acc-alice')).toEqual({
      account_id: 'acc-alice',
      owner: 'alice',
      cash: { available: '10000.00', reserved: '0.00' },
      positions: [
        { symbol: 'ACME', quantity: 100, reserved: 0 },
        { symbol: 'GLOBEX', quantity: 50, reserved: 0 },
      ],
    });
    const bob = await service.app.inject({ url: '/accounts?owner=bob' });
    expect(bob.json().accounts).toMatchObject([{ account_id: 'acc-bob', cash: { available: '50000.00' } }]);
    expect((await accountOf('acc-carol')).positions).toEqual([]);
    const statement = await service.app.inject({ url: '/accounts/acc-bob/statement' });
    expect(statement.json().cash).toEqual({
      opening: '50000.00',
      fills: '0.00',
      fees: '0.00',
      closing: '50000.00',
    });
  });

  it('opens accounts and creates customers only for the holder of the admin credential: 401 otherwise', async () => {
    const attempts = [
      {
        url: '/accounts',
        payload: { account_id: `acc-${randomUUID().slice(0, 8)}`, owner: 'x', cash: '9999999.99' },
      },
      {
        url: '/customers',
        payload: { username: `cust-${randomUUID().slice(0, 8)}`, password: 'long enough pw' },
      },
    ];
    for (const attempt of attempts) {
      for (const authorization of [
        undefined,
        'Bearer wrong-token-0123456789',
        `Basic ${adminHeaders.authorization}`,
      ]) {
        const response = await service.app.inject({
          method: 'POST',
          ...attempt,
          ...(authorization ? { headers: { authorization } } : {}),
        });
        expect({ url: attempt.url, authorization, status: response.statusCode }).toEqual({
          url: attempt.url,
          authorization,
          status: 401,
        });
        expect(response.json().error.code).toBe('unauthorized');
        expect(response.headers['www-authenticate']).toBe('Bearer realm="admin"');
      }
    }
    // nothing was created
    const { rowCount } = await service.context.pool.query('SELECT 1 FROM customers WHERE username = $1', [
      attempts[1]?.payload.username,
    ]);
    expect(rowCount).toBe(0);
    // the chassis' /admin/faults alike
    expect((await service.app.inject({ method: 'PUT', url: '/admin/faults', payload: {} })).statusCode).toBe(
      401,
    );
    expect((await service.app.inject({ url: '/admin/faults', headers: adminHeaders })).statusCode).toBe(200);
  });

  it('answers an unknown account with 404 unknown_account', async () => {
    const response = await service.app.inject({ url: '/accounts/acc-nobody' });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('unknown_account');
  });

  it('opens a funded account once, and only with symbols the exchange trades', async () => {
    const accountId = await openAccount('1234.56', [{ symbol: 'HOOLI', quantity: 7 }]);
    expect(await accountOf(accountId)).toMatchObject({
      cash: { available: '1234.56', reserved: '0.00' },
      positions: [{ symbol: 'HOOLI', quantity: 7, reserved: 0 }],
    });
    const again = await service.app.inject({
      method: 'POST',
      url: '/accounts',
      headers: adminHeaders,
      payload: { account_id: accountId, owner: 'tester', cash: '1.00' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('account_exists');
    const unknown = await service.app.inject({
      method: 'POST',
      url: '/accounts',
      headers: adminHeaders,
      payload: {
        account_id: 'acc-new',
        owner: 'tester',
        cash: '1.00',
        positions: [{ symbol: 'NOPE', quantity: 1 }],
      },
    });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().error.code).toBe('unknown_symbol');
  });
});

describe('customers (HTTP)', () => {
  const authenticate = (username: string, password: string) =>
    service.app.inject({ method: 'POST', url: '/customers/authenticate', payload: { username, password } });

  it('seeds the demo customers with their documented passwords', async () => {
    for (const name of ['alice', 'bob', 'carol']) {
      const response = await authenticate(name, `${name}-password`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ username: name, token_version: 0 });
    }
    const { rows } = await service.context.pool.query<{ password_hash: string }>(
      'SELECT password_hash FROM customers ORDER BY username',
    );
    // salted: three different hashes, none containing the password
    expect(new Set(rows.map((r) => r.password_hash)).size).toBe(rows.length);
    for (const { password_hash } of rows) expect(password_hash).toMatch(/^scrypt\$15\$8\$1\$/);
  });

  it('answers a wrong password and an unknown username alike: 401 invalid_credentials', async () => {
    const wrong = await authenticate('alice', 'bob-password');
    const unknown = await authenticate('mallory', 'alice-password');
    for (const response of [wrong, unknown]) {
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({
        error: { code: 'invalid_credentials', message: 'wrong username or password' },
      });
    }
  });

  it("raises a customer's token version on sign-out and on a new password, which needs the old one", async () => {
    const username = `cust-${randomUUID().slice(0, 8)}`;
    const created = await service.app.inject({
      method: 'POST',
      url: '/customers',
      headers: adminHeaders,
      payload: { username, password: 'first password' },
    });
    expect(created.statusCode).toBe(201);
    const version = async () =>
      (await service.app.inject({ url: `/customers/${username}/token-version` })).json();
    expect(await version()).toEqual({ username, token_version: 0 });
    const out = await service.app.inject({ method: 'POST', url: `/customers/${username}/sign-out` });
    expect(out.json()).toEqual({ username, token_version: 1 });
    const change = (old_password: string, new_password: string) =>
      service.app.inject({
        method: 'POST',
        url: `/customers/${username}/password`,
        payload: { old_password, new_password },
      });
    const wrong = await change('not the password', 'second password');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe('invalid_credentials');
    expect((await change('first password', 'second password')).json()).toEqual({
      username,
      token_version: 2,
    });
    expect((await authenticate(username, 'first password')).statusCode).toBe(401);
    expect((await authenticate(username, 'second password')).json()).toEqual({ username, token_version: 2 });
    expect((await change('second password', 'short')).statusCode).toBe(400);
    const unknown = await service.app.inject({ url: '/customers/nobody-here/token-version' });
    expect(unknown.statusCode).toBe(404);
  });

  it('creates a customer once, storing only a salted hash of the password', async () => {
    const username = `cust-${randomUUID().slice(0, 8)}`;
    const created = await service.app.inject({
      method: 'POST',
      url: '/customers',
      headers: adminHeaders,
      payload: { username, password: 'correct horse battery staple' },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ username });
    expect((await authenticate(username, 'correct horse battery staple')).statusCode).toBe(200);
    expect((await authenticate(username, 'correct horse battery stapl')).statusCode).toBe(401);
    const { rows } = await service.context.pool.query(
      'SELECT password_hash FROM customers WHERE username = $1',
      [username],
    );
    expect(rows[0].password_hash).not.toContain('correct horse');

    const again = await service.app.inject({
      method: 'POST',
      url: '/customers',
      headers: adminHeaders,
      payload: { username, password: 'another password' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('customer_exists');
    expect((await authenticate(username, 'another password')).statusCode).toBe(401);
  });

  it('opens an account together with its owner when a password comes with it', async () => {
    const owner = `cust-${randomUUID().slice(0, 8)}`;
    const open = (account_id: string) =>
      service.app.inject({
        method: 'POST',
        url: '/accounts',
        headers: adminHeaders,
        payload: { account_id, owner, password: 'owner password', cash: '10.00' },
      });
    const first = `acc-${randomUUID().slice(0, 8)}`;
    expect((await open(first)).statusCode).toBe(201);
    expect((await authenticate(owner, 'owner password')).json()).toEqual({
      username: owner,
      token_version: 0,
    });
    // the owner exists now: a second account with a password is refused, and nothing is opened
    const second = `acc-${randomUUID().slice(0, 8)}`;
    const refused = await open(second);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('customer_exists');
    expect((await service.app.inject({ url: `/accounts/${second}` })).statusCode).toBe(404);
    // without a password an account is opened for an existing owner
    const third = await service.app.inject({
      method: 'POST',
      url: '/accounts',
      headers: adminHeaders,
      payload: { account_id: second, owner, cash: '1.00' },
    });
    expect(third.statusCode).toBe(201);
    const owned = await service.app.inject({ url: `/accounts?owner=${owner}` });
    expect(
      owned
        .json()
        .accounts.map((a: { account_id: string }) => a.account_id)
        .sort(),
    ).toEqual([first, second].sort());
  });

  it.each([
    ['no password', { username: 'alice' }],
    ['an empty password', { username: 'alice', password: '' }],
    ['a password of 129 characters', { username: 'alice', password: 'x'.repeat(129) }],
    ['a username of 65 characters', { username: 'a'.repeat(65), password: 'alice-password' }],
    ['a username with a space', { username: 'alice smith', password: 'alice-password' }],
    ['an unknown field', { username: 'alice', password: 'alice-password', admin: true }],
    ['a numeric password', { username: 'alice', password: 12345678 }],
  ])('refuses credentials with %s (400, before any hashing)', async (_, payload) => {
    const response = await service.app.inject({ method: 'POST', url: '/customers/authenticate', payload });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('validation_failed');
  });

  it('refuses a new customer whose password is shorter than 8 characters', async () => {
    const response = await service.app.inject({
      method: 'POST',
      url: '/customers',
      headers: adminHeaders,
      payload: { username: `cust-${randomUUID().slice(0, 8)}`, password: 'short' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toMatch(/password/);
  });
});

describe('account-transactions saga steps (real RabbitMQ and PostgreSQL)', () => {
  it('T2: holds a sell’s shares and fee allowance, and announces it', async () => {
    const accountId = await openAccount('1000.00', [{ symbol: 'ACME', quantity: 100 }]);
    const order = sellOrder(accountId);
    const event = await reserved(order);
    expect(event.payload).toEqual({
      orderId: order.orderId,
      accountId,
      reservedShares: 10,
      reservedCashCents: 595,
    });
    expect(event.correlationId).toBe(order.orderId);
    expect(PositionReserved.validate(event.payload)).toBeUndefined();
    expect(await accountOf(accountId)).toMatchObject({
      cash: { available: '994.05', reserved: '5.95' },
      positions: [{ symbol: 'ACME', quantity: 100, reserved: 10 }],
    });
  });

  it('T2: holds a buy’s worst cost plus the fee allowance in cash', async () => {
    const accountId = await openAccount('2000.00');
    const event = await reserved(buyOrder(accountId));
    expect(event.payload).toMatchObject({ reservedShares: 0, reservedCashCents: 105_595 });
    expect((await accountOf(accountId)).cash).toEqual({ available: '944.05', reserved: '1055.95' });
  });

  it('refuses a sell of shares the account does not have, and holds nothing', async () => {
    const accountId = await openAccount('1000.00', [{ symbol: 'ACME', quantity: 9 }]);
    const order = sellOrder(accountId);
    await publishEvent(amqpUrl, OrderCreated, order);
    const failed = await probe.next(ReservationFailed, (p) => p.orderId === order.orderId);
    expect(failed.payload.reason).toBe('insufficient_shares');
    expect(await accountOf(accountId)).toMatchObject({
      cash: { available: '1000.00', reserved: '0.00' },
      positions: [{ symbol: 'ACME', quantity: 9, reserved: 0 }],
    });
    expect(await reservationOf(order.orderId)).toMatchObject({
      status: 'declined',
      reason: 'insufficient_shares',
    });
  });

  it('refuses a buy without the cash for it, and an order on an unknown account', async () => {
    const accountId = await openAccount('1055.94');
    const poor = buyOrder(accountId);
    const stranger = sellOrder('acc-nobody');
    await publishEvent(amqpUrl, OrderCreated, poor);
    await publishEvent(amqpUrl, OrderCreated, stranger);
    expect((await probe.next(ReservationFailed, (p) => p.orderId === poor.orderId)).payload.reason).toBe(
      'insufficient_cash',
    );
    expect((await probe.next(ReservationFailed, (p) => p.orderId === stranger.orderId)).payload.reason).toBe(
      'unknown_account',
    );
    expect((await accountOf(accountId)).cash).toEqual({ available: '1055.94', reserved: '0.00' });
  });

  it('C2: releases the hold exactly once, however many times the failure arrives', async () => {
    const accountId = await openAccount('1000.00', [{ symbol: 'ACME', quantity: 100 }]);
    const before = await accountOf(accountId);
    const order = sellOrder(accountId);
    await reserved(order);
    const failure = { orderId: order.orderId, accountId, reason: 'exchange_rejected' };
    const counted = await compensations('C2', 'exchange_rejected');
    const first = await publishEvent(amqpUrl, OrderFailed, failure);
    const redelivered = await publishEvent(amqpUrl, OrderFailed, failure, { id: first.id });
    const second = await publishEvent(amqpUrl, OrderFailed, failure); // another message, same order
    await Promise.all([handled(first), handled(redelivered), handled(second)]);
    expect(await reservationOf(order.orderId)).toMatchObject({
      status: 'released',
      reason: 'exchange_rejected',
    });
    expect(await accountOf(accountId)).toEqual(before);
    const { rows } = await service.context.pool.query(
      `SELECT count(*) AS releases FROM journal_entries WHERE order_id = $1 AND kind = 'release'`,
      [order.orderId],
    );
    expect(rows[0].releases).toBe(1);
    await waitFor('C2 to be counted', async () => (await compensations('C2', 'exchange_rejected')) > counted);
    expect(await compensations('C2', 'exchange_rejected')).toBe(counted + 1);
  });

  it('C2: releases the hold of an order that expired on the exchange', async () => {
    const accountId = await openAccount('2000.00');
    const order = buyOrder(accountId);
    await reserved(order);
    const counted = await compensations('C2', 'expired');
    await publishEvent(amqpUrl, OrderExpired, { orderId: order.orderId, accountId });
    await statusOf(order.orderId, 'released');
    await waitFor('C2 to be counted', async () => (await compensations('C2', 'expired')) === counted + 1);
    expect((await accountOf(accountId)).cash).toEqual({ available: '2000.00', reserved: '0.00' });
  });

  it('never holds anything for an order that failed before its OrderCreated arrived', async () => {
    const accountId = await openAccount('1000.00', [{ symbol: 'ACME', quantity: 100 }]);
    const order = sellOrder(accountId);
    await publishEvent(amqpUrl, OrderFailed, {
      orderId: order.orderId,
      accountId,
      reason: 'fee_above_quoted_maximum',
    });
    await statusOf(order.orderId, 'void');
    await handled(await publishEvent(amqpUrl, OrderCreated, order));
    expect(await reservationOf(order.orderId)).toMatchObject({ status: 'void', shares: 0, cash_cents: 0 });
    expect(await accountOf(accountId)).toMatchObject({
      cash: { available: '1000.00', reserved: '0.00' },
      positions: [{ symbol: 'ACME', quantity: 100, reserved: 0 }],
    });
    await drained(); // so a PositionReserved or ReservationFailed would be in by now
    expect(eventsAbout(order.orderId)).toHaveLength(0);
  });

  it('settles a sell: shares leave, proceeds less the fee arrive, the rest of the allowance comes back', async () => {
    const accountId = await openAccount('1000.00', [{ symbol: 'ACME', quantity: 100 }]);
    const order = sellOrder(accountId);
    await reserved(order);
    // 10 × 100.12 = 1,001.20 in; fee 3.38 of the 5.95 allowance
    const trade = { ...TradeExecuted.example, orderId: order.orderId, accountId, feeCents: 338 };
    await publishEvent(amqpUrl, TradeExecuted, trade);
    await publishEvent(amqpUrl, TradeExecuted, trade); // another message about the same fill
    await statusOf(order.orderId, 'settled');
    expect(await accountOf(accountId)).toMatchObject({
      cash: { available: '1997.82', reserved: '0.00' },
      positions: [{ symbol: 'ACME', quantity: 90, reserved: 0 }],
    });
    const statement = (await service.app.inject({ url: `/accounts/${accountId}/statement` })).json();
    expect(statement).toEqual({
      account_id: accountId,
      cash: { opening: '1000.00', fills: '1001.20', fees: '3.38', closing: '1997.82' },
      positions: [{ symbol: 'ACME', opening: 100, fills: -10, closing: 90 }],
    });
  });

  it('settles a buy: cost and fee leave, the rest of the hold comes back, shares arrive', async () => {
    const accountId = await openAccount('2000.00');
    const order = buyOrder(accountId);
    await reserved(order);
    const trade = {
      ...TradeExecuted.example,
      orderId: order.orderId,
      accountId,
      side: 'buy' as const,
      feeCents: 350,
    };
    await publishEvent(amqpUrl, TradeExecuted, trade);
    await statusOf(order.orderId, 'settled');
    // 2,000.00 − 10 × 100.12 − 3.50
    expect(await accountOf(accountId)).toMatchObject({
      cash: { available: '995.30', reserved: '0.00' },
      positions: [{ symbol: 'ACME', quantity: 10, reserved: 0 }],
    });
    const statement = (await service.app.inject({ url: `/accounts/${accountId}/statement` })).json();
    expect(statement.cash).toEqual({
      opening: '2000.00',
      fills: '-1001.20',
      fees: '3.50',
      closing: '995.30',
    });
    expect(statement.positions).toEqual([{ symbol: 'ACME', opening: 0, fills: 10, closing: 10 }]);
  });

  it('parks a fill that has no hold to settle it from, and moves nothing', async () => {
    const accountId = await openAccount('1000.00', [{ symbol: 'ACME', quantity: 100 }]);
    const before = await accountOf(accountId);
    const trade = { ...TradeExecuted.example, orderId: randomUUID(), accountId };
    const envelope = await publishEvent(amqpUrl, TradeExecuted, trade);
    const queue = deadLetterQueue(handlerQueue(TradeExecuted, 'account-transactions', 'settle_trade'));
    const parked = await waitFor('the parked fill', () =>
      service.context.broker.connection.basicGet({ queue, noAck: true }),
    );
    expect(parked.messageId).toBe(envelope.id);
    expect(String(parked.headers?.['x-death-reason'])).toMatch(/no held reservation/);
    expect(await accountOf(accountId)).toEqual(before);
  });

  it('serializes concurrent orders on one account: never holds more than there is', async () => {
    const accountId = await openAccount('100.00', [{ symbol: 'ACME', quantity: 25 }]);
    const orders = Array.from({ length: 6 }, () => sellOrder(accountId));
    await Promise.all(orders.map((order) => publishEvent(amqpUrl, OrderCreated, order)));
    const outcomes = await Promise.all(
      orders.map((order) =>
        waitFor('an answer', () =>
          probe.received.find((e) => (e.payload as { orderId: string }).orderId === order.orderId),
        ),
      ),
    );
    expect(outcomes.filter((e) => e.type === PositionReserved.name)).toHaveLength(2);
    expect(outcomes.filter((e) => e.type === ReservationFailed.name)).toHaveLength(4);
    expect(await accountOf(accountId)).toMatchObject({
      cash: { available: '88.10', reserved: '11.90' },
      positions: [{ symbol: 'ACME', quantity: 25, reserved: 20 }],
    });
  });

  it('keeps the ledger balanced: every asset sums to zero and the balances agree with the journal', async () => {
    const check = (await service.app.inject({ url: '/ledger/balance-check' })).json();
    expect(check.balanced).toBe(true);
    expect(check.balances_match_journal).toBe(true);
    expect(Object.keys(check.assets)).toEqual(expect.arrayContaining(['CASH', 'ACME', 'GLOBEX', 'INITECH']));
    expect(Object.values(check.assets).every((total) => total === 0)).toBe(true);
  });
});
