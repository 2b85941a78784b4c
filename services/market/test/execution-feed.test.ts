import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RunningService, startService } from '@simplebank/chassis';
import { EventProbe, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { OrderExpired, OrderFailed, OrderPlaced, TradeExecuted } from '@simplebank/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import market from '../src/service.ts';

// A stand-in for the exchange that serves whatever feed the test wants, bad entries included.
let feedUp = false;
let feedRequests = 0;
const feed: object[] = [];
let fakeExchange: Server;
let service: RunningService;
let probe: EventProbe;

beforeAll(async () => {
  fakeExchange = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://exchange');
    const answer = (status: number, body: object) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (url.pathname === '/quotes') return answer(200, { quotes: [] });
    if (url.pathname !== '/executions') return answer(404, {});
    feedRequests++;
    if (!feedUp) return answer(503, { error: 'down' });
    const after = Number(url.searchParams.get('after'));
    const limit = Number(url.searchParams.get('limit'));
    const page = feed.filter((e) => (e as { seq: number }).seq > after).slice(0, limit);
    answer(200, { epoch: 'epoch-1', executions: page });
  });
  await new Promise<void>((resolve) => fakeExchange.listen(0, '127.0.0.1', resolve));
  const { port } = fakeExchange.address() as AddressInfo;
  const env = await testEnvironment('market-execution-feed');
  service = await startService(market, {
    env: {
      ...env,
      EXCHANGE_URL: `http://127.0.0.1:${port}`,
      EXECUTION_POLL_MS: '20',
      // the failing feed opens the circuit; it tries again soon after the feed is back
      EXCHANGE_BREAKER_RESET_MS: '100',
    },
    listen: false,
  });
  probe = await EventProbe.start(env.AMQP_URL as string, [
    OrderPlaced,
    OrderFailed,
    TradeExecuted,
    OrderExpired,
  ]);
});

afterAll(async () => {
  await probe?.close();
  await service?.stop();
  await new Promise((resolve) => fakeExchange?.close(resolve));
});

/** A placement as market would hold it; `symbol` and `status` let a test make one it cannot use. */
const placement = async ({ status = 'placed', symbol = 'ACME' } = {}) => {
  const orderId = randomUUID();
  await service.context.pool.query(
    `INSERT INTO placements (order_id, account_id, status, side, symbol, quantity, limit_price_cents,
       position_reserved, fee_cents, ready_at, next_attempt_at, exchange_order_id)
     VALUES ($1, 'acc-alice', $2, 'sell', $3, 10, 9500, true, 595, now(), now() + interval '1 hour', $4)`,
    [orderId, status, symbol, status === 'placed' ? `X-${orderId}` : null],
  );
  return orderId;
};
const fill = (seq: number, orderId: string, price_cents: number, kind = 'filled') => ({
  seq,
  client_order_id: orderId,
  exchange_order_id: `X-${orderId}`,
  kind,
  price_cents,
});
const cursor = async () =>
  (await service.context.pool.query('SELECT epoch, after_seq FROM execution_feed')).rows[0];
const statusOf = async (orderId: string) =>
  (await service.context.pool.query('SELECT status FROM placements WHERE order_id = $1', [orderId])).rows[0]
    .status;
const eventsOf = (orderId: string) =>
  probe.received.filter((e) => (e.payload as { orderId: string }).orderId === orderId).map((e) => e.type);

describe('market following the execution feed (fake exchange, real RabbitMQ and PostgreSQL)', {
  timeout: 30_000,
}, () => {
  it('retries while the feed fails, and passes over executions it can never apply', async () => {
    const tooExpensive = await placement();
    const unknownKind = await placement();
    const unpublishable = await placement({ symbol: 'CASH' }); // no TradeExecuted can name it
    // accepted by the exchange, but market's transaction rolled back: no attempt recorded
    const neverRecorded = await placement({ status: 'ready' });
    feed.push(
      fill(1, tooExpensive, 1_000_000_001),
      fill(2, unknownKind, 10_012, 'partially_filled'),
      fill(3, unpublishable, 10_012),
      fill(4, neverRecorded, 10_012),
    );

    // a transient failure: the cursor stays where it is and the feed is asked again
    await waitFor('a few failed polls of the feed', () => feedRequests >= 3);
    expect(await cursor()).toEqual({ epoch: null, after_seq: 0 });

    feedUp = true;
    const executed = await probe.next(TradeExecuted, (p) => p.orderId === neverRecorded);
    expect(executed.payload.fillPriceCents).toBe(10_012);
    expect(eventsOf(neverRecorded)).toEqual(['OrderPlaced', 'TradeExecuted']);
    expect(await cursor()).toEqual({ epoch: 'epoch-1', after_seq: 4 });
    // the skipped ones changed nothing; anything they published would have come before seq 4's events
    for (const orderId of [tooExpensive, unknownKind, unpublishable]) {
      expect(await statusOf(orderId)).toBe('placed');
      expect(eventsOf(orderId)).toEqual([]);
    }
    expect(await statusOf(neverRecorded)).toBe('executed');
  });
});
