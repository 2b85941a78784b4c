import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type RunningService, startService } from '@simplebank/chassis';
import {
  adminHeaders,
  EventProbe,
  freshDatabase,
  metricValue,
  outboxDrained,
  publishEvent,
  testEnvironment,
  waitFor,
} from '@simplebank/chassis/testing';
import {
  ChargeFailed,
  type Envelope,
  type EventDefinition,
  FeeCharged,
  OrderCanceled,
  OrderCreated,
  OrderExpired,
  OrderFailed,
  OrderPlaced,
  type PayloadOf,
  PositionReserved,
  ReservationFailed,
  TradeExecuted,
} from '@simplebank/contracts';
import stockExchange from '@simplebank/stock-exchange';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import market from '../src/service.ts';

let service: RunningService;
let exchange: RunningService;
let probe: EventProbe;
let env: Record<string, string>;
let amqpUrl: string;
/** The exchange's own database: its book survives its restarts, unless it is given a new one. */
let exchangeDatabase: string;

const startExchange = (port = 0) =>
  startService(stockExchange, { env: { ...env, DATABASE_URL: exchangeDatabase, PORT: String(port) } });

beforeAll(async () => {
  env = await testEnvironment('market');
  amqpUrl = env.AMQP_URL as string;
  exchangeDatabase = await freshDatabase('simplebank_test_market_exchange');
  exchange = await startExchange();
  const { port } = exchange.app.server.address() as AddressInfo;
  service = await startService(market, {
    env: {
      ...env,
      EXCHANGE_URL: `http://127.0.0.1:${port}`,
      PLACEMENT_RETRY_BASE_MS: '20',
      PLACEMENT_RETRY_MAX_MS: '100',
      // an exchange slower than this leaves the attempt unanswered (in doubt)
      EXCHANGE_TIMEOUT_MS: '300',
      EXCHANGE_RETRIES: '0',
      // the breaker around the exchange opens as in production, but tries again within 100 ms
      EXCHANGE_BREAKER_RESET_MS: '100',
      EXCHANGE_BREAKER_VOLUME: '5',
    },
    listen: false,
  });
  probe = await EventProbe.start(amqpUrl, [OrderPlaced, OrderFailed, TradeExecuted, OrderExpired]);
});

afterAll(async () => {
  await probe?.close();
  await service?.stop();
  await exchange?.stop();
});

beforeEach(async () => {
  await setFaults({ latency_ms: 0, error_rate: 0, reject_rate: 0, fill_delay_ms: 50, order_ttl_ms: 30_000 });
  await exchange.app.inject({ method: 'DELETE', headers: adminHeaders, url: '/admin/prices/ACME' });
});

const setFaults = (faults: object) =>
  exchange.app.inject({ method: 'PUT', headers: adminHeaders, url: '/admin/faults', payload: faults });
const pin = (symbol: string, price_cents: number) =>
  exchange.app.inject({
    method: 'PUT',
    headers: adminHeaders,
    url: `/admin/prices/${symbol}`,
    payload: { price_cents },
  });

const newOrder = (terms: Partial<PayloadOf<typeof OrderCreated>> = {}) => ({
  ...OrderCreated.example,
  orderId: randomUUID(),
  ...terms,
});
type Order = ReturnType<typeof newOrder>;
const ids = ({ orderId, accountId }: Order) => ({ orderId, accountId });

/** An event to publish, with its payload. */
type Delivery = readonly [EventDefinition, object];
const created = (order: Order): Delivery => [OrderCreated, order];
const reserved = (order: Order): Delivery => [
  PositionReserved,
  { ...PositionReserved.example, ...ids(order) },
];
const charged = (order: Order): Delivery => [FeeCharged, { ...FeeCharged.example, ...ids(order) }];

/** Publishes an event and waits until market has handled it, so the next one comes strictly after. */
async function deliver([event, payload]: Delivery): Promise<Envelope> {
  const envelope = await publishEvent(amqpUrl, event, payload as PayloadOf<typeof event>);
  await waitFor(`${event.name} to be handled`, async () => {
    const { rowCount } = await service.context.pool.query('SELECT 1 FROM inbox WHERE message_id = $1', [
      envelope.id,
    ]);
    return rowCount === 1;
  });
  return envelope;
}

/** Everything market has published so far has reached the probe. */
const drained = () => outboxDrained(service, probe, amqpUrl, OrderExpired);

const eventsOf = (orderId: string) =>
  probe.received.filter((e) => (e.payload as { orderId: string }).orderId === orderId).map((e) => e.type);
const placementOf = async (orderId: string) =>
  (await service.app.inject({ url: `/market/placements/${orderId}` })).json();
const sentToExchange = async (orderId: string) =>
  (await exchange.app.inject({ url: `/orders/${orderId}` })).statusCode === 200;

describe('market service (real RabbitMQ, PostgreSQL and stock-exchange simulator)', {
  timeout: 30_000,
}, () => {
  it('serves the exchange quotes as decimal strings, and keeps them in its database', async () => {
    await pin('ACME', 10_012);
    const acme = await waitFor('the pinned ACME quote', async () => {
      const response = await service.app.inject({ url: '/market/quotes/ACME' });
      return response.statusCode === 200 && response.json().price === '100.12' && response.json();
    });
    expect(acme).toEqual({ symbol: 'ACME', price: '100.12', at: expect.any(String) });

    const all = (await service.app.inject({ url: '/market/quotes' })).json();
    expect(all.quotes.map((q: { symbol: string }) => q.symbol)).toEqual([
      'ACME',
      'GLOBEX',
      'HOOLI',
      'INITECH',
      'UMBRELLA',
    ]);
    expect(all.quotes.every((q: { price: string }) => /^\d+\.\d{2}$/.test(q.price))).toBe(true);

    const unknown = await service.app.inject({ url: '/market/quotes/NOPE' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('unknown_symbol');

    // stored too, so a restarted market has prices before its first poll
    await waitFor('the ACME quote to be stored', async () => {
      const { rows } = await service.context.pool.query(
        `SELECT price_cents FROM quotes WHERE symbol = 'ACME'`,
      );
      return rows[0]?.price_cents === 10_012;
    });
  });

  it('T4: places an order once OrderCreated, PositionReserved and FeeCharged are in, in any order, then executes it', async () => {
    await pin('ACME', 10_012);
    const permutations = [
      [created, reserved, charged],
      [created, charged, reserved],
      [reserved, created, charged],
      [reserved, charged, created],
      [charged, created, reserved],
      [charged, reserved, created],
    ];
    const orders = await Promise.all(
      permutations.map(async (events, i) => {
        const order = newOrder(i % 2 ? { side: 'buy', limitPriceCents: 10_500 } : {});
        for (const event of events) await deliver(event(order));
        return order;
      }),
    );
    for (const order of orders) {
      const placed = await probe.next(OrderPlaced, (p) => p.orderId === order.orderId);
      expect(placed.correlationId).toBe(order.orderId);
      const executed = await probe.next(TradeExecuted, (p) => p.orderId === order.orderId);
      expect(executed.payload).toEqual({
        orderId: order.orderId,
        accountId: order.accountId,
        side: order.side,
        symbol: 'ACME',
        quantity: 10,
        fillPriceCents: 10_012,
        feeCents: FeeCharged.example.feeCents,
      });
      expect(eventsOf(order.orderId)).toEqual(['OrderPlaced', 'TradeExecuted']);
      expect(await placementOf(order.orderId)).toMatchObject({ status: 'executed', fill_price: '100.12' });
    }
  });

  it('fails an order once on a failed reservation, whatever arrives after', async () => {
    const order = newOrder();
    await deliver(created(order));
    await deliver([ReservationFailed, { ...ids(order), reason: 'insufficient_shares' }]);
    const failed = await probe.next(OrderFailed, (p) => p.orderId === order.orderId);
    expect(failed.payload).toEqual({ ...ids(order), reason: 'insufficient_shares' });

    await deliver(charged(order));
    await deliver([ChargeFailed, { ...ids(order), reason: 'fee_above_quoted_maximum' }]);
    await deliver(reserved(order));
    await drained(); // so a second OrderFailed (or an OrderPlaced) would be in by now
    expect(eventsOf(order.orderId)).toEqual(['OrderFailed']);
    expect(await placementOf(order.orderId)).toMatchObject({
      status: 'failed',
      reason: 'insufficient_shares',
    });
    expect(await sentToExchange(order.orderId)).toBe(false);
  });

  it('fails on a failed fee charge before OrderCreated has even arrived', async () => {
    const order = newOrder();
    await deliver([ChargeFailed, { ...ids(order), reason: 'fee_above_quoted_maximum' }]);
    await probe.next(
      OrderFailed,
      (p) => p.orderId === order.orderId && p.reason === 'fee_above_quoted_maximum',
    );
    await deliver(created(order));
    await drained(); // so a second OrderFailed would be in by now
    expect(eventsOf(order.orderId)).toEqual(['OrderFailed']);
  });

  it('fails an order the exchange rejects', async () => {
    await setFaults({ reject_rate: 1 });
    const order = newOrder();
    for (const event of [created, reserved, charged]) await deliver(event(order));
    const failed = await probe.next(OrderFailed, (p) => p.orderId === order.orderId);
    expect(failed.payload.reason).toBe('exchange_rejected');
    expect(eventsOf(order.orderId)).toEqual(['OrderFailed']);
  });

  it('keeps trying while the exchange is down, and places the order once it is back', async () => {
    await pin('ACME', 10_012);
    await setFaults({ error_rate: 1 });
    const order = newOrder();
    for (const event of [created, reserved, charged]) await deliver(event(order));
    await waitFor('a few failed attempts', async () => (await placementOf(order.orderId)).attempts >= 3);
    expect(await placementOf(order.orderId)).toMatchObject({ status: 'ready', reason: null });
    expect(eventsOf(order.orderId)).toEqual([]);

    await setFaults({ error_rate: 0 });
    await probe.next(OrderPlaced, (p) => p.orderId === order.orderId);
    const executed = await probe.next(TradeExecuted, (p) => p.orderId === order.orderId);
    expect(executed.payload.fillPriceCents).toBe(10_012);
    expect(eventsOf(order.orderId)).toEqual(['OrderPlaced', 'TradeExecuted']);
  });

  it('counts an open circuit as the exchange being unavailable, not as a refusal', async () => {
    await pin('ACME', 10_012);
    await setFaults({ error_rate: 1 });
    // circuit_breaker_state: 0 closed, 1 half-open, 2 open
    const breakerState = () => metricValue(service, 'circuit_breaker_state', { target: 'exchange' });
    await waitFor('the circuit around the exchange to open', async () => (await breakerState()) === 2);

    const order = newOrder();
    for (const event of [created, reserved, charged]) await deliver(event(order));
    await waitFor('an attempt refused by the open circuit', async () => {
      const { rows } = await service.context.pool.query(
        'SELECT last_error FROM placements WHERE order_id = $1',
        [order.orderId],
      );
      return /circuit_open/.test(rows[0]?.last_error ?? '');
    });
    expect(await placementOf(order.orderId)).toMatchObject({ status: 'ready', reason: null });
    expect(eventsOf(order.orderId)).toEqual([]);

    // the exchange is back: a trial call closes the circuit and the order is placed
    await setFaults({ error_rate: 0 });
    await probe.next(OrderPlaced, (p) => p.orderId === order.orderId);
    await probe.next(TradeExecuted, (p) => p.orderId === order.orderId);
    await waitFor('the circuit to close', async () => (await breakerState()) === 0);
    expect(eventsOf(order.orderId)).toEqual(['OrderPlaced', 'TradeExecuted']);
  });

  it('at the placement deadline, fails an order only once the exchange has said it does not hold it', async () => {
    await setFaults({ error_rate: 1 });
    const order = newOrder();
    for (const event of [created, reserved, charged]) await deliver(event(order));
    await waitFor('a failed attempt', async () => (await placementOf(order.orderId)).attempts >= 1);
    // as if it had been ready for an hour: the deadline (60 s) has passed
    await service.context.pool.query(
      `UPDATE placements SET ready_at = ready_at - interval '1 hour' WHERE order_id = $1`,
      [order.orderId],
    );
    // the unanswered attempts may have reached it: market asks it to withdraw the order, in vain
    await waitFor('a withdrawal tried', async () => {
      const { rows } = await service.context.pool.query(
        'SELECT attempts FROM placements WHERE order_id = $1',
        [order.orderId],
      );
      return rows[0].attempts >= 4;
    });
    expect(await placementOf(order.orderId)).toMatchObject({ status: 'ready', in_doubt: true });
    expect(eventsOf(order.orderId)).toEqual([]);

    await setFaults({ error_rate: 0 });
    const failed = await probe.next(OrderFailed, (p) => p.orderId === order.orderId);
    expect(failed.payload.reason).toBe('exchange_unavailable');
    expect(eventsOf(order.orderId)).toEqual(['OrderFailed']);
    // withdrawn at the exchange: no later attempt can be taken there
    expect((await exchange.app.inject({ url: `/orders/${order.orderId}` })).json().status).toBe('withdrawn');
  });

  describe('a cancel while the exchange is slower than market waits (the attempt unanswered, in doubt)', () => {
    const exchangeStatus = async (orderId: string) =>
      (await exchange.app.inject({ url: `/orders/${orderId}` })).json().status as string | undefined;
    const placeSlowly = async (order: Order, { filledFirst = false } = {}) => {
      await setFaults({ latency_ms: 600 });
      for (const event of [created, reserved, charged]) await deliver(event(order));
      await waitFor(
        'an unanswered attempt',
        async () => (await placementOf(order.orderId)).in_doubt === true,
      );
      // the exchange fills it before the customer's cancel comes (else the withdrawal may win the race)
      if (filledFirst)
        await waitFor(
          'the exchange to fill it',
          async () => (await exchangeStatus(order.orderId)) === 'filled',
        );
      await deliver([OrderCanceled, ids(order)]);
      await waitFor('the exchange to take the order after all', () => sentToExchange(order.orderId));
      expect(eventsOf(order.orderId)).toEqual([]); // nothing ended while in doubt
      await setFaults({ latency_ms: 0 });
    };

    it('withdrawn at the exchange: the order ends canceled, never filled', async () => {
      await pin('ACME', 9_000);
      const order = newOrder({ limitPriceCents: 9_500 }); // a sell above the market: rests
      await placeSlowly(order);
      const failed = await probe.next(OrderFailed, (p) => p.orderId === order.orderId);
      expect(failed.payload.reason).toBe('canceled_by_customer');
      expect((await exchange.app.inject({ url: `/orders/${order.orderId}` })).json().status).toBe(
        'withdrawn',
      );
      await drained();
      expect(eventsOf(order.orderId)).toEqual(['OrderFailed']);
      expect(await placementOf(order.orderId)).toMatchObject({ status: 'canceled', in_doubt: false });
    });

    it('filled before the withdrawal: the order ends executed, as the exchange says', async () => {
      await pin('ACME', 10_012);
      const order = newOrder({ limitPriceCents: 9_500 }); // fills as soon as the exchange takes it
      await placeSlowly(order, { filledFirst: true });
      const executed = await probe.next(TradeExecuted, (p) => p.orderId === order.orderId);
      expect(executed.payload.fillPriceCents).toBe(10_012);
      await drained();
      expect(eventsOf(order.orderId)).toEqual(['OrderPlaced', 'TradeExecuted']);
      expect((await exchange.app.inject({ url: `/orders/${order.orderId}` })).json().status).toBe('filled');
    });
  });

  it('announces an order that expired on the exchange unfilled', async () => {
    await pin('ACME', 9_000);
    await setFaults({ order_ttl_ms: 200 });
    const order = newOrder({ limitPriceCents: 9_500 }); // a sell below the market: never fills
    for (const event of [created, reserved, charged]) await deliver(event(order));
    await probe.next(OrderPlaced, (p) => p.orderId === order.orderId);
    const expired = await probe.next(OrderExpired, (p) => p.orderId === order.orderId);
    expect(expired.payload).toEqual(ids(order));
    expect(eventsOf(order.orderId)).toEqual(['OrderPlaced', 'OrderExpired']);
    expect(await placementOf(order.orderId)).toMatchObject({ status: 'expired' });
  });

  it('cancels an order not yet placed, and never sends it to the exchange', async () => {
    const order = newOrder();
    await deliver(created(order));
    await deliver(reserved(order));
    await deliver([OrderCanceled, ids(order)]);
    const failed = await probe.next(OrderFailed, (p) => p.orderId === order.orderId);
    expect(failed.payload.reason).toBe('canceled_by_customer');

    await deliver(charged(order));
    await drained(); // so a second OrderFailed (or an OrderPlaced) would be in by now
    expect(await placementOf(order.orderId)).toMatchObject({
      status: 'canceled',
      reason: 'canceled_by_customer',
    });
    expect(eventsOf(order.orderId)).toEqual(['OrderFailed']);
    expect(await sentToExchange(order.orderId)).toBe(false);
  });

  it('withdraws a placed order the customer cancels: it ends canceled, and never fills', async () => {
    await pin('ACME', 9_000);
    const order = newOrder({ limitPriceCents: 9_500 }); // rests on the exchange
    for (const event of [created, reserved, charged]) await deliver(event(order));
    await probe.next(OrderPlaced, (p) => p.orderId === order.orderId);
    await deliver([OrderCanceled, ids(order)]);
    const failed = await probe.next(OrderFailed, (p) => p.orderId === order.orderId);
    expect(failed.payload.reason).toBe('canceled_by_customer');
    expect((await exchange.app.inject({ url: `/orders/${order.orderId}` })).json().status).toBe('withdrawn');
    expect(eventsOf(order.orderId)).toEqual(['OrderPlaced', 'OrderFailed']);
  });

  it('ignores a cancel of an order that executed', async () => {
    await pin('ACME', 10_012);
    const order = newOrder();
    for (const event of [created, reserved, charged]) await deliver(event(order));
    await probe.next(TradeExecuted, (p) => p.orderId === order.orderId);
    await deliver([OrderCanceled, ids(order)]);
    await drained(); // so an OrderFailed for the cancel would be in by now
    expect(eventsOf(order.orderId)).toEqual(['OrderPlaced', 'TradeExecuted']);
  });

  it('records a fill for an order our books had ended as a trade break, counted until resolved', async () => {
    const order = newOrder();
    await deliver(created(order));
    await deliver([OrderCanceled, ids(order)]); // canceled before it was ever sent
    await probe.next(OrderFailed, (p) => p.orderId === order.orderId);
    // …yet the exchange fills an order under its id (what an unrecorded attempt would do)
    await pin('ACME', 10_012);
    const { side, symbol, quantity, limitPriceCents } = order;
    const sent = await exchange.app.inject({
      method: 'POST',
      url: '/orders',
      payload: { client_order_id: order.orderId, side, symbol, quantity, limit_price_cents: limitPriceCents },
    });
    expect(sent.statusCode).toBe(201);
    const breaks = await waitFor('the trade break', async () => {
      const listed = (await service.app.inject({ url: '/market/trade-breaks' })).json().trade_breaks;
      return listed.find((b: { order_id: string }) => b.order_id === order.orderId);
    });
    expect(breaks).toMatchObject({ placement_status: 'canceled', fill_price: '100.12', resolved_at: null });
    expect(await metricValue(service, 'market_trade_breaks_open')).toBe(1);
    await drained();
    expect(eventsOf(order.orderId)).toEqual(['OrderFailed']); // our books are not changed behind an operator

    const resolve = (resolution: string) =>
      service.app.inject({
        method: 'POST',
        url: `/market/trade-breaks/${order.orderId}/resolve`,
        payload: { resolution },
      });
    expect((await resolve('sold 10 ACME at 100.12 booked by hand')).statusCode).toBe(200);
    expect((await resolve('again')).statusCode).toBe(404);
    expect(await metricValue(service, 'market_trade_breaks_open')).toBe(0);
  });

  it('keeps an order resting across an exchange restart, and settles its fill after', async () => {
    await pin('ACME', 9_000);
    const order = newOrder({ limitPriceCents: 9_500 });
    for (const event of [created, reserved, charged]) await deliver(event(order));
    await probe.next(OrderPlaced, (p) => p.orderId === order.orderId);
    const { port } = exchange.app.server.address() as AddressInfo;
    expect((await exchange.app.inject({ url: `/orders/${order.orderId}` })).json().status).toBe('open');
    await exchange.stop();
    exchange = await startExchange(port);
    // the restart forgot the pin (prices are news): the walk from 100.00 meets the limit at once
    const executed = await probe.next(TradeExecuted, (p) => p.orderId === order.orderId);
    expect(executed.payload.fillPriceCents).toBeGreaterThanOrEqual(9_500);
    expect(eventsOf(order.orderId)).toEqual(['OrderPlaced', 'TradeExecuted']);
  });

  it('asks after every placed order when the exchange lost its book, and ends each as it answers', async () => {
    await pin('ACME', 9_000);
    const order = newOrder({ limitPriceCents: 9_500 });
    for (const event of [created, reserved, charged]) await deliver(event(order));
    await probe.next(OrderPlaced, (p) => p.orderId === order.orderId);
    const before = await service.context.pool.query('SELECT epoch FROM execution_feed');
    const { port } = exchange.app.server.address() as AddressInfo;
    await exchange.stop();
    exchangeDatabase = await freshDatabase('simplebank_test_market_exchange_2');
    exchange = await startExchange(port);
    // unknown to the new book: withdrawn there (so it can never fill), then ended as lapsed
    const expired = await probe.next(OrderExpired, (p) => p.orderId === order.orderId);
    expect(expired.payload).toEqual(ids(order));
    expect((await exchange.app.inject({ url: `/orders/${order.orderId}` })).json().status).toBe('withdrawn');
    const after = await service.context.pool.query('SELECT epoch FROM execution_feed');
    expect(after.rows[0].epoch).not.toBe(before.rows[0].epoch);

    // and it follows the new feed from its start
    await pin('ACME', 10_012);
    const next = newOrder();
    for (const event of [created, reserved, charged]) await deliver(event(next));
    expect((await probe.next(TradeExecuted, (p) => p.orderId === next.orderId)).payload.fillPriceCents).toBe(
      10_012,
    );
  });
});
