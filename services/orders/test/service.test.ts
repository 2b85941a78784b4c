import { randomUUID } from 'node:crypto';
import { RpcError, type RunningService } from '@simplebank/chassis';
import {
  type EventProbe,
  metricValue,
  publishEvent,
  type ServiceUnderTest,
  serviceUnderTest,
  waitFor,
} from '@simplebank/chassis/testing';
import {
  OrderCanceled,
  OrderCreated,
  OrderExpired,
  OrderFailed,
  OrderPlaced,
  OrderStatusChanged,
  type PlaceOrderCommand,
  TradeExecuted,
} from '@simplebank/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import orders from '../src/service.ts';

let service: RunningService;
let probe: EventProbe;
let amqpUrl: string;

let underTest: ServiceUnderTest;

beforeAll(async () => {
  underTest = await serviceUnderTest(orders, 'orders', [OrderCreated, OrderCanceled, OrderStatusChanged]);
  ({ service, probe, amqpUrl } = underTest);
});

afterAll(() => underTest?.stop());

const { side: _side, ...exampleCommand } = OrderCreated.example;

/** A new order's command, as the gateway sends it. */
const newCommand = (overrides: Partial<PlaceOrderCommand> = {}): PlaceOrderCommand => ({
  ...exampleCommand,
  orderId: randomUUID(),
  ...overrides,
});

/** Calls the RPC as the gateway does, over `rpc-orders`, correlated by the order id. */
const call = (method: 'sell' | 'buy' | 'cancel', params: unknown) =>
  service.context.broker.call('orders', method, params, 5000, {
    correlationId: (params as { orderId?: string }).orderId,
  });

const orderOf = async (orderId: string) => {
  const response = await service.app.inject({ method: 'GET', url: `/orders/${orderId}` });
  return response.statusCode === 200 ? response.json() : undefined;
};

const statusReached = (orderId: string, status: string) =>
  waitFor(`order ${orderId} to be ${status}`, async () => {
    const order = await orderOf(orderId);
    return order?.status === status ? order : undefined;
  });

/** Places a sell order and waits until its OrderCreated has left, as the saga would. */
const placeSell = async (overrides: Partial<PlaceOrderCommand> = {}) => {
  const command = newCommand(overrides);
  await call('sell', command);
  await probe.next(OrderCreated, (p) => p.orderId === command.orderId);
  return command;
};

interface OrderPage {
  orders: { order_id: string; created_at: string }[];
  next_cursor: string | null;
}

/** GET /orders for `accountId`; expects a 200. */
const listOrders = async (
  accountId: string,
  query: { limit?: number; cursor?: string | null } = {},
): Promise<OrderPage> => {
  const params = new URLSearchParams({ account_id: accountId });
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  if (query.cursor) params.set('cursor', query.cursor);
  const response = await service.app.inject({ url: `/orders?${params}` });
  expect(response.statusCode).toBe(200);
  return response.json();
};

const eventsFor = (orderId: string) =>
  probe.received.filter((e) => (e.payload as { orderId: string }).orderId === orderId);

/** Waits until every event committed so far has left: the relay publishes in commit order. */
const outboxDrained = () => placeSell();

/** Waits until orders has handled the event with envelope id `messageId`. */
const handled = (messageId: string) =>
  waitFor('the event to be handled', async () => {
    const { rowCount } = await service.context.pool.query('SELECT 1 FROM inbox WHERE message_id = $1', [
      messageId,
    ]);
    return rowCount === 1;
  });

describe('orders service (real RabbitMQ and PostgreSQL)', () => {
  it('T1: a sell creates the order and announces it, correlated by the order id', async () => {
    const command = newCommand();
    expect(await call('sell', command)).toEqual({ orderId: command.orderId, status: 'created' });
    const created = await probe.next(OrderCreated, (p) => p.orderId === command.orderId);
    expect(created.payload).toEqual({ ...command, side: 'sell' });
    expect(created.correlationId).toBe(command.orderId);
    expect(OrderCreated.validate(created.payload)).toBeUndefined();
    expect(await orderOf(command.orderId)).toMatchObject({
      status: 'created',
      side: 'sell',
      limit_price: '95.00',
    });
  });

  it('a buy creates a buy order', async () => {
    const command = newCommand();
    await call('buy', command);
    const created = await probe.next(OrderCreated, (p) => p.orderId === command.orderId);
    expect(created.payload.side).toBe('buy');
  });

  it('the same command twice creates one order and one event', async () => {
    const command = newCommand();
    const first = await call('sell', command);
    expect(await call('sell', command)).toEqual(first);
    await probe.next(OrderCreated, (p) => p.orderId === command.orderId);
    // The relay publishes in commit order: once a later order's event is out, a duplicate would be too.
    await placeSell();
    // one OrderCreated, and the news of its status
    expect(eventsFor(command.orderId).map((e) => e.type)).toEqual(
      expect.arrayContaining(['OrderCreated', 'OrderStatusChanged']),
    );
    expect(eventsFor(command.orderId)).toHaveLength(2);
    const { rows } = await service.context.pool.query(
      'SELECT count(*) AS n FROM orders WHERE order_id = $1',
      [command.orderId],
    );
    expect(rows[0].n).toBe(1);
  });

  it('refuses the same order id with different content', async () => {
    const command = await placeSell();
    await expect(call('sell', { ...command, quantity: command.quantity + 1 })).rejects.toMatchObject({
      code: 'order_id_conflict',
    });
    await expect(call('buy', command)).rejects.toMatchObject({ code: 'order_id_conflict' });
  });

  it('refuses invalid params with validation_failed', async () => {
    const error = await call('sell', newCommand({ quantity: 0 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: 'validation_failed' });
    await expect(call('sell', { ...newCommand(), extra: 1 })).rejects.toMatchObject({
      code: 'validation_failed',
    });
  });

  it('T5: OrderPlaced marks the order placed', async () => {
    const { orderId, accountId } = await placeSell();
    await publishEvent(amqpUrl, OrderPlaced, { ...OrderPlaced.example, orderId, accountId });
    const order = await statusReached(orderId, 'placed');
    expect(order.history.map((h: { status: string }) => h.status)).toEqual(['created', 'placed']);
  });

  it('TradeExecuted marks the order executed with its fill price and fee', async () => {
    const { orderId, accountId } = await placeSell();
    await publishEvent(amqpUrl, OrderPlaced, { ...OrderPlaced.example, orderId, accountId });
    await statusReached(orderId, 'placed');
    await publishEvent(amqpUrl, TradeExecuted, { ...TradeExecuted.example, orderId, accountId });
    const order = await statusReached(orderId, 'executed');
    expect(order).toMatchObject({ fill_price: '100.12', fee: '5.95', reason: null });
    expect(order.history.map((h: { status: string }) => h.status)).toEqual(['created', 'placed', 'executed']);
  });

  it('a TradeExecuted before its OrderPlaced still ends executed, with placed in the history', async () => {
    const { orderId, accountId } = await placeSell();
    await publishEvent(amqpUrl, TradeExecuted, { ...TradeExecuted.example, orderId, accountId });
    await statusReached(orderId, 'executed');
    await publishEvent(amqpUrl, OrderPlaced, { ...OrderPlaced.example, orderId, accountId });
    const order = await waitFor('the late placed in the history', async () => {
      const o = await orderOf(orderId);
      return o?.history.some((h: { status: string }) => h.status === 'placed') ? o : undefined;
    });
    expect(order).toMatchObject({ status: 'executed', fill_price: '100.12', fee: '5.95' });
    const { rows } = await service.context.pool.query(
      'SELECT exchange_order_id FROM orders WHERE order_id = $1',
      [orderId],
    );
    expect(rows[0].exchange_order_id).toBe(OrderPlaced.example.exchangeOrderId);
  });

  it('C1: OrderFailed marks the order failed with the reason', async () => {
    const { orderId, accountId } = await placeSell();
    await publishEvent(amqpUrl, OrderFailed, { orderId, accountId, reason: 'insufficient_shares' });
    const order = await statusReached(orderId, 'failed');
    expect(order.reason).toBe('insufficient_shares');
    expect(order.history.at(-1)).toMatchObject({ status: 'failed', reason: 'insufficient_shares' });
  });

  it('C1: a customer cancel ends the order canceled, and a late OrderPlaced changes nothing', async () => {
    const { orderId, accountId } = await placeSell();
    await publishEvent(amqpUrl, OrderFailed, { orderId, accountId, reason: 'canceled_by_customer' });
    await statusReached(orderId, 'canceled');
    const placed = await publishEvent(amqpUrl, OrderPlaced, { ...OrderPlaced.example, orderId, accountId });
    await handled(placed.id);
    const order = await orderOf(orderId);
    expect(order.status).toBe('canceled');
    expect(order.history.map((h: { status: string }) => h.status)).toEqual(['created', 'canceled']);
  });

  it('announces each status it commits as OrderStatusChanged, and nothing for an event it ignores', async () => {
    const { orderId, accountId } = await placeSell();
    await probe.next(OrderStatusChanged, (p) => p.orderId === orderId && p.status === 'created');
    const failed = await publishEvent(amqpUrl, OrderFailed, {
      orderId,
      accountId,
      reason: 'insufficient_shares',
    });
    const news = await probe.next(OrderStatusChanged, (p) => p.orderId === orderId && p.status === 'failed');
    expect(news.payload).toEqual({
      orderId,
      accountId,
      status: 'failed',
      reason: 'insufficient_shares',
      at: failed.occurredAt,
    });
    expect(news.correlationId).toBe(orderId);
    // a contradiction (placed after failed) is ignored: no news
    const placed = await publishEvent(amqpUrl, OrderPlaced, { ...OrderPlaced.example, orderId, accountId });
    await handled(placed.id);
    await outboxDrained();
    const statuses = eventsFor(orderId)
      .filter((e) => e.type === OrderStatusChanged.name)
      .map((e) => (e.payload as { status: string }).status);
    expect(statuses).toEqual(['created', 'failed']);
  });

  it('OrderExpired marks the order expired', async () => {
    const { orderId, accountId } = await placeSell();
    await publishEvent(amqpUrl, OrderPlaced, { ...OrderPlaced.example, orderId, accountId });
    await statusReached(orderId, 'placed');
    await publishEvent(amqpUrl, OrderExpired, { orderId, accountId });
    await statusReached(orderId, 'expired');
  });

  it('GET /orders/:order_id shows the API shape, and 404 for an unknown order', async () => {
    const command = await placeSell({ limitPriceCents: 12_345, maxFeeCents: 7 });
    const response = await service.app.inject({ url: `/orders/${command.orderId}` });
    expect(response.statusCode).toBe(200);
    const order = response.json();
    expect(order).toEqual({
      order_id: command.orderId,
      account_id: command.accountId,
      side: 'sell',
      symbol: 'ACME',
      quantity: 10,
      status: 'created',
      limit_price: '123.45',
      fee: null,
      fill_price: null,
      reason: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      history: [{ status: 'created', at: order.created_at }],
    });
    const missing = await service.app.inject({ url: `/orders/${randomUUID()}` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('order_not_found');
    const bad = await service.app.inject({ url: '/orders/not-a-uuid' });
    expect(bad.statusCode).toBe(400);
  });

  it("lists an account's orders newest first, a page at a time", async () => {
    const accountId = `acc-${randomUUID().slice(0, 8)}`;
    const placed: string[] = [];
    for (let i = 0; i < 3; i++) placed.push((await placeSell({ accountId })).orderId);
    await placeSell({ accountId: 'acc-someone-else' });
    const newestFirst = placed.toReversed();

    const all = await listOrders(accountId);
    expect(all.orders.map((o) => o.order_id)).toEqual(newestFirst);
    expect(all.next_cursor).toBeNull();
    // a page that holds exactly the rest says there is no more
    expect((await listOrders(accountId, { limit: 3 })).next_cursor).toBeNull();

    const first = await listOrders(accountId, { limit: 2 });
    expect(first.orders.map((o) => o.order_id)).toEqual(newestFirst.slice(0, 2));
    expect(first.next_cursor).toEqual(expect.stringMatching(/^[A-Za-z0-9_-]+$/));
    const second = await listOrders(accountId, { limit: 2, cursor: first.next_cursor });
    expect(second.orders.map((o) => o.order_id)).toEqual([placed[0]]);
    expect(second.next_cursor).toBeNull();

    const missingAccount = await service.app.inject({ url: '/orders' });
    expect(missingAccount.statusCode).toBe(400);
    expect(missingAccount.json().error.code).toBe('validation_failed');
  });

  it('pages through orders that share one created_at without losing or repeating any', async () => {
    const accountId = `acc-${randomUUID().slice(0, 8)}`;
    const commands = await Promise.all(Array.from({ length: 7 }, () => placeSell({ accountId })));
    const [newer, older, ...tied] = commands.map((c) => c.orderId);
    // Many orders placed at once share a millisecond; make it certain for five of them.
    const at = new Date('2025-06-01T12:00:00.123Z');
    const setCreatedAt = (ids: string[], createdAt: Date) =>
      service.context.pool.query('UPDATE orders SET created_at = $1 WHERE order_id = ANY($2)', [
        createdAt,
        ids,
      ]);
    await setCreatedAt(tied, at);
    await setCreatedAt([newer as string], new Date(at.getTime() + 1));
    await setCreatedAt([older as string], new Date(at.getTime() - 1));
    // newest first; orders of the same instant by order id, descending (uuids compare as hex text)
    const expected = [newer, ...tied.toSorted().toReversed(), older];

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: OrderPage = await listOrders(accountId, { limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.orders.map((o) => o.order_id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(seen).toEqual(expected);
    expect(pages).toBe(4);
  });

  it.each([
    ['text that is not a cursor', 'not-a-cursor'],
    ['a cursor that is not JSON', Buffer.from('2025-06-01').toString('base64url')],
    [
      'a cursor with a bad timestamp',
      Buffer.from(JSON.stringify(['yesterday', randomUUID()])).toString('base64url'),
    ],
    [
      'a cursor with a bad order id',
      Buffer.from(JSON.stringify(['2025-06-01T12:00:00.000Z', 'x'])).toString('base64url'),
    ],
    [
      'a cursor of another shape',
      Buffer.from(JSON.stringify({ created_at: '2025-06-01T12:00:00.000Z' })).toString('base64url'),
    ],
    ['characters outside base64url', 'abc+/='],
  ])('refuses %s with validation_failed', async (_, cursor) => {
    const response = await service.app.inject({
      url: `/orders?account_id=acc-1&cursor=${encodeURIComponent(cursor)}`,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('validation_failed');
  });

  it('no longer takes before=', async () => {
    const response = await service.app.inject({
      url: '/orders?account_id=acc-1&before=2025-06-01T12:00:00.000Z',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('validation_failed');
  });

  describe('cancel', () => {
    it('of a created order announces OrderCanceled once and keeps it created until market answers', async () => {
      const { orderId, accountId } = await placeSell();
      expect(await call('cancel', { orderId, accountId })).toEqual({ orderId, status: 'created' });
      const canceled = await probe.next(OrderCanceled, (p) => p.orderId === orderId);
      expect(canceled.payload).toEqual({ orderId, accountId });
      expect(canceled.correlationId).toBe(orderId);
      expect(OrderCanceled.validate(canceled.payload)).toBeUndefined();

      // a second cancel (a retry, a double click) answers the same and announces nothing new
      expect(await call('cancel', { orderId, accountId })).toEqual({ orderId, status: 'created' });
      await outboxDrained();
      expect(eventsFor(orderId).filter((e) => e.type === OrderCanceled.name)).toHaveLength(1);
      const waiting = await orderOf(orderId);
      expect(waiting).toMatchObject({ status: 'created', reason: null });
      expect(waiting.history.map((h: { status: string }) => h.status)).toEqual(['created']);
      const { rows } = await service.context.pool.query(
        'SELECT cancel_requested_at FROM orders WHERE order_id = $1',
        [orderId],
      );
      expect(rows[0].cancel_requested_at).toBeInstanceOf(Date);

      // market interrupts the order before placing it (C1)
      await publishEvent(amqpUrl, OrderFailed, { orderId, accountId, reason: 'canceled_by_customer' });
      const order = await statusReached(orderId, 'canceled');
      expect(order.reason).toBe('canceled_by_customer');
      expect(order.history.map((h: { status: string; reason?: string }) => [h.status, h.reason])).toEqual([
        ['created', undefined],
        ['canceled', 'canceled_by_customer'],
      ]);

      // once canceled, another cancel is refused
      await expect(call('cancel', { orderId, accountId })).rejects.toMatchObject({
        code: 'order_not_cancelable',
        message: `order ${orderId} is canceled`,
      });
    });

    it('that market overtook (it placed the order first) lets the order go on to placed and executed', async () => {
      const { orderId, accountId } = await placeSell();
      await call('cancel', { orderId, accountId });
      await probe.next(OrderCanceled, (p) => p.orderId === orderId);
      await publishEvent(amqpUrl, OrderPlaced, { ...OrderPlaced.example, orderId, accountId });
      await statusReached(orderId, 'placed');
      await publishEvent(amqpUrl, TradeExecuted, { ...TradeExecuted.example, orderId, accountId });
      const order = await statusReached(orderId, 'executed');
      expect(order.history.map((h: { status: string }) => h.status)).toEqual([
        'created',
        'placed',
        'executed',
      ]);
    });

    it('of a placed order is accepted: market withdraws it at the exchange, and it ends canceled', async () => {
      const { orderId, accountId } = await placeSell();
      const sent = await publishEvent(amqpUrl, OrderPlaced, { ...OrderPlaced.example, orderId, accountId });
      await handled(sent.id);
      await statusReached(orderId, 'placed');
      expect(await call('cancel', { orderId, accountId })).toEqual({ orderId, status: 'placed' });
      await probe.next(OrderCanceled, (p) => p.orderId === orderId);
      await publishEvent(amqpUrl, OrderFailed, { orderId, accountId, reason: 'canceled_by_customer' });
      const order = await statusReached(orderId, 'canceled');
      expect(order.history.map((h: { status: string }) => h.status)).toEqual([
        'created',
        'placed',
        'canceled',
      ]);
    });

    it.each([
      ['executed', [OrderPlaced, TradeExecuted]],
      ['expired', [OrderPlaced, OrderExpired]],
      ['failed', [OrderFailed]],
    ] as const)('of an order already %s is refused with order_not_cancelable', async (status, events) => {
      const { orderId, accountId } = await placeSell();
      for (const event of events) {
        const payload = { ...event.example, orderId, accountId };
        const sent = await publishEvent(amqpUrl, event, payload as never);
        await handled(sent.id);
      }
      await statusReached(orderId, status);
      const error = await call('cancel', { orderId, accountId }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RpcError);
      expect(error).toMatchObject({ code: 'order_not_cancelable', message: `order ${orderId} is ${status}` });
      await outboxDrained();
      expect(eventsFor(orderId).filter((e) => e.type === OrderCanceled.name)).toHaveLength(0);
      const { rows } = await service.context.pool.query(
        'SELECT cancel_requested_at FROM orders WHERE order_id = $1',
        [orderId],
      );
      expect(rows[0].cancel_requested_at).toBeNull();
    });

    it("of an unknown order or another account's order is refused with order_not_found", async () => {
      const { orderId, accountId } = await placeSell();
      await expect(call('cancel', { orderId: randomUUID(), accountId })).rejects.toMatchObject({
        code: 'order_not_found',
      });
      await expect(call('cancel', { orderId, accountId: 'acc-mallory' })).rejects.toMatchObject({
        code: 'order_not_found',
        message: `no order ${orderId}`,
      });
      await outboxDrained();
      expect(eventsFor(orderId).filter((e) => e.type === OrderCanceled.name)).toHaveLength(0);
      expect(await orderOf(orderId)).toMatchObject({ status: 'created' });
    });

    it('refuses invalid params with validation_failed', async () => {
      const { orderId, accountId } = await placeSell();
      for (const params of [
        { orderId: 'not-a-uuid', accountId },
        { orderId },
        { orderId, accountId: '' },
        { orderId, accountId, reason: 'changed my mind' },
      ]) {
        await expect(call('cancel', params)).rejects.toMatchObject({ code: 'validation_failed' });
      }
    });
  });
});

/** The value of the sample `name` whose labels include `labels` in /metrics; 0 when absent. */
const metric = (name: string, labels: Record<string, string> = {}) => metricValue(service, name, labels);

const metricReaches = (name: string, labels: Record<string, string>, value: number) =>
  waitFor(
    `${name} ${JSON.stringify(labels)} to reach ${value}`,
    async () => (await metric(name, labels)) >= value,
  );

describe('saga metrics', () => {
  it('counts an order reaching a terminal status, and times each step from its creation', async () => {
    const executed = { side: 'sell', status: 'executed' };
    const before = {
      executed: await metric('saga_orders_total', executed),
      placed: await metric('saga_step_seconds_count', { step: 'placed' }),
      done: await metric('saga_step_seconds_count', { step: 'executed' }),
    };
    const { orderId, accountId } = await placeSell();
    await publishEvent(amqpUrl, OrderPlaced, { ...OrderPlaced.example, orderId, accountId });
    await metricReaches('saga_step_seconds_count', { step: 'placed' }, before.placed + 1);
    expect(await metric('saga_orders_total', executed)).toBe(before.executed);
    await publishEvent(amqpUrl, TradeExecuted, { ...TradeExecuted.example, orderId, accountId });
    await metricReaches('saga_orders_total', executed, before.executed + 1);
    expect(await metric('saga_step_seconds_count', { step: 'executed' })).toBe(before.done + 1);
    // A late, repeated TradeExecuted moves nothing and counts nothing.
    const again = await publishEvent(amqpUrl, TradeExecuted, {
      ...TradeExecuted.example,
      orderId,
      accountId,
    });
    await handled(again.id);
    expect(await metric('saga_orders_total', executed)).toBe(before.executed + 1);
  });

  it('counts C1 by reason, and failed and canceled orders by side', async () => {
    const c1 = { compensation: 'C1', reason: 'insufficient_cash' };
    const before = {
      c1: await metric('saga_compensations_total', c1),
      failed: await metric('saga_orders_total', { side: 'buy', status: 'failed' }),
      canceled: await metric('saga_orders_total', { side: 'sell', status: 'canceled' }),
    };
    const buy = newCommand();
    await call('buy', buy);
    await probe.next(OrderCreated, (p) => p.orderId === buy.orderId);
    await publishEvent(amqpUrl, OrderFailed, {
      orderId: buy.orderId,
      accountId: buy.accountId,
      reason: 'insufficient_cash',
    });
    await metricReaches('saga_compensations_total', c1, before.c1 + 1);
    expect(await metric('saga_orders_total', { side: 'buy', status: 'failed' })).toBe(before.failed + 1);

    const sell = await placeSell();
    await publishEvent(amqpUrl, OrderFailed, {
      orderId: sell.orderId,
      accountId: sell.accountId,
      reason: 'canceled_by_customer',
    });
    await metricReaches('saga_orders_total', { side: 'sell', status: 'canceled' }, before.canceled + 1);
    expect(
      await metric('saga_compensations_total', { compensation: 'C1', reason: 'canceled_by_customer' }),
    ).toBeGreaterThan(0);
  });

  it('saga_orders_in_flight counts the orders not yet terminal', async () => {
    const inFlight = async () =>
      (
        await service.context.pool.query(
          `SELECT count(*)::int AS n FROM orders WHERE status IN ('created', 'placed')`,
        )
      ).rows[0].n as number;
    const { orderId, accountId } = await placeSell();
    const open = await inFlight();
    expect(open).toBeGreaterThan(0);
    expect(await metric('saga_orders_in_flight')).toBe(open);
    expect(await metric('saga_oldest_order_in_flight_age_seconds')).toBeGreaterThanOrEqual(0);
    await publishEvent(amqpUrl, OrderFailed, { orderId, accountId, reason: 'exchange_rejected' });
    await statusReached(orderId, 'failed');
    expect(await metric('saga_orders_in_flight')).toBe(open - 1);
    expect(await inFlight()).toBe(open - 1);
  });

  it('reports the outbox backlog, empty once the relay has published', async () => {
    await placeSell();
    await waitFor('the outbox to be empty', async () => (await metric('outbox_pending_messages')) === 0);
    expect(await metric('outbox_oldest_message_age_seconds')).toBe(0);
  });
});
