import { type RunningService, startService } from '@simplebank/chassis';
import { testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import stockExchange from '../src/service.ts';

let exchange: RunningService;
let env: Record<string, string>;

beforeAll(async () => {
  env = { ...(await testEnvironment('stock_exchange_api')), FILL_DELAY_MS: '50', PRICE_STEP_MS: '20' };
  exchange = await startService(stockExchange, { env, listen: false });
});

afterAll(async () => {
  await exchange?.stop();
});

beforeEach(async () => {
  await setFaults({ latency_ms: 0, error_rate: 0, reject_rate: 0, fill_delay_ms: 50, order_ttl_ms: 30_000 });
  for (const symbol of ['ACME', 'GLOBEX'])
    await exchange.app.inject({ method: 'DELETE', url: `/admin/prices/${symbol}` });
});

const setFaults = (faults: object) =>
  exchange.app.inject({ method: 'PUT', url: '/admin/faults', payload: faults });
const pin = (symbol: string, price_cents: number) =>
  exchange.app.inject({ method: 'PUT', url: `/admin/prices/${symbol}`, payload: { price_cents } });
let orderNumber = 0;
const placeOrder = (order: object = {}) =>
  exchange.app.inject({
    method: 'POST',
    url: '/orders',
    payload: {
      client_order_id: `order-${++orderNumber}`,
      side: 'sell',
      symbol: 'ACME',
      quantity: 10,
      limit_price_cents: 9_500,
      ...order,
    },
  });
const quotes = async (): Promise<Record<string, { price_cents: number }>> => {
  const response = await exchange.app.inject({ url: '/quotes' });
  return Object.fromEntries(response.json().quotes.map((q: { symbol: string }) => [q.symbol, q]));
};
const executionOf = async (clientOrderId: string) => {
  const feed = (await exchange.app.inject({ url: '/executions?after=0&limit=1000' })).json();
  return feed.executions.find((e: { client_order_id: string }) => e.client_order_id === clientOrderId);
};

describe('stock-exchange simulator HTTP API', () => {
  it('quotes every default symbol in cents', async () => {
    const response = await exchange.app.inject({ url: '/quotes' });
    expect(response.statusCode).toBe(200);
    const symbols = response.json().quotes.map((q: { symbol: string }) => q.symbol);
    expect(symbols).toEqual(['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA', 'HOOLI']);
    expect(Number.isInteger(response.json().quotes[0].price_cents)).toBe(true);
  });

  it('pins a price, holds it through the random walk, and lets it go', async () => {
    expect((await pin('GLOBEX', 4_321)).json()).toMatchObject({
      symbol: 'GLOBEX',
      price_cents: 4_321,
      pinned: true,
    });
    const before = await quotes();
    // the walk has stepped once the unpinned symbols moved
    const after = await waitFor('the random walk to move the others', async () => {
      const now = await quotes();
      return ['ACME', 'UMBRELLA', 'HOOLI'].some((s) => now[s]?.price_cents !== before[s]?.price_cents) && now;
    });
    expect(after.GLOBEX?.price_cents).toBe(4_321);
    const unpinned = await exchange.app.inject({ method: 'DELETE', url: '/admin/prices/GLOBEX' });
    expect(unpinned.json()).toMatchObject({ pinned: false });
    expect((await pin('NOPE', 100)).json().error.code).toBe('unknown_symbol');
  });

  it("pins a price only up to the contracts' bound of 10 million per share", async () => {
    expect((await pin('GLOBEX', 1_000_000_000)).statusCode).toBe(200);
    const above = await pin('GLOBEX', 1_000_000_001);
    expect(above.statusCode).toBe(400);
    expect(above.json().error.code).toBe('validation_failed');
    expect((await quotes()).GLOBEX?.price_cents).toBe(1_000_000_000);
  });

  it('takes an order once per client_order_id and fills it at the current price', async () => {
    await pin('ACME', 10_012);
    const first = await placeOrder({ client_order_id: 'fill-me' });
    expect(first.statusCode).toBe(201);
    const again = await placeOrder({ client_order_id: 'fill-me' });
    expect(again.statusCode).toBe(201);
    expect(again.json().exchange_order_id).toBe(first.json().exchange_order_id);

    const execution = await waitFor('the fill', () => executionOf('fill-me'));
    expect(execution).toMatchObject({
      kind: 'filled',
      price_cents: 10_012,
      exchange_order_id: first.json().exchange_order_id,
    });
    const feed = (await exchange.app.inject({ url: '/executions?after=0' })).json();
    expect(typeof feed.epoch).toBe('string');
    expect(
      feed.executions.filter((e: { client_order_id: string }) => e.client_order_id === 'fill-me'),
    ).toHaveLength(1);
    expect((await exchange.app.inject({ url: '/orders/fill-me' })).json()).toMatchObject({
      status: 'filled',
      fill_price_cents: 10_012,
    });
  });

  it('fills a buy only at or below its limit', async () => {
    await pin('ACME', 10_012);
    const buy = await placeOrder({ client_order_id: 'buy-low', side: 'buy', limit_price_cents: 10_000 });
    expect(buy.statusCode).toBe(201);
    // a sell that fills at any price, placed after the buy: once it fills, the buy was due too
    await placeOrder({ client_order_id: 'witness', limit_price_cents: 0 });
    await waitFor('the witness to fill', () => executionOf('witness'));
    expect(await executionOf('buy-low')).toBeUndefined();
    await pin('ACME', 9_990);
    expect(await waitFor('the fill', () => executionOf('buy-low'))).toMatchObject({
      kind: 'filled',
      price_cents: 9_990,
    });
  });

  it('expires an order the price never reaches', async () => {
    await pin('ACME', 9_000);
    await setFaults({ order_ttl_ms: 100 });
    await placeOrder({ client_order_id: 'never' });
    expect(await waitFor('the expiry', () => executionOf('never'))).toEqual({
      seq: expect.any(Number),
      client_order_id: 'never',
      exchange_order_id: expect.any(String),
      kind: 'expired',
    });
  });

  it('rejects with 422 at reject_rate 1, but never a retry of an order it holds', async () => {
    const held = await placeOrder({ client_order_id: 'held' });
    await setFaults({ reject_rate: 1 });
    const rejected = await placeOrder();
    expect(rejected.statusCode).toBe(422);
    expect(rejected.json().error.code).toBe('order_rejected');
    const retried = await placeOrder({ client_order_id: 'held' });
    expect(retried.statusCode).toBe(201);
    expect(retried.json()).toEqual(held.json());
  });

  it('answers trading requests 503 at error_rate 1, admin requests still', async () => {
    await setFaults({ error_rate: 1 });
    expect((await placeOrder()).statusCode).toBe(503);
    expect((await exchange.app.inject({ url: '/executions' })).statusCode).toBe(503);
    expect((await exchange.app.inject({ url: '/quotes' })).statusCode).toBe(503);
    expect((await exchange.app.inject({ url: '/admin/faults' })).json().error_rate).toBe(1);
  });

  it('adds latency_ms to trading requests', async () => {
    await setFaults({ latency_ms: 120 });
    const started = Date.now();
    await exchange.app.inject({ url: '/quotes' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('changes only the faults given, and returns them all', async () => {
    const response = await setFaults({ reject_rate: 0.5 });
    expect(response.json()).toEqual({
      latency_ms: 0,
      error_rate: 0,
      reject_rate: 0.5,
      fill_delay_ms: 50,
      order_ttl_ms: 30_000,
    });
    expect((await setFaults({ error_rate: 2 })).statusCode).toBe(400);
    expect((await setFaults({ surprise: 1 })).statusCode).toBe(400);
  });

  it('refuses malformed orders and unknown symbols', async () => {
    expect((await placeOrder({ quantity: 0 })).statusCode).toBe(400);
    const unknown = await placeOrder({ symbol: 'NOPE' });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().error.code).toBe('unknown_symbol');
    expect((await exchange.app.inject({ url: '/orders/nobody' })).statusCode).toBe(404);
  });

  it('opens the symbols SYMBOLS names, and refuses to start on a list it cannot read', async () => {
    const custom = await startService(stockExchange, {
      env: { ...env, SYMBOLS: 'ACME:1.50,FOO:2.00' },
      listen: false,
    });
    try {
      const quotes = (await custom.app.inject({ url: '/quotes' })).json().quotes;
      const opening: Record<string, number> = { ACME: 150, FOO: 200 };
      expect(quotes.map((q: { symbol: string }) => q.symbol)).toEqual(['ACME', 'FOO']);
      // the random walk may already have taken its first step (at most ±0.5 %)
      for (const { symbol, price_cents } of quotes as { symbol: string; price_cents: number }[]) {
        expect(Math.abs(price_cents - (opening[symbol] as number))).toBeLessThanOrEqual(
          (opening[symbol] as number) * 0.005 + 1,
        );
      }
    } finally {
      await custom.stop();
    }
    await expect(
      startService(stockExchange, { env: { ...env, SYMBOLS: 'acme:1' }, listen: false }),
    ).rejects.toThrow(/SYMBOLS bad symbol/);
  });
  it('fills at the current price, never before the fill delay, and expiry wins at the deadline', async () => {
    await pin('ACME', 10_012);
    await setFaults({ fill_delay_ms: 60_000 });
    await placeOrder({ client_order_id: 'slow-fill' });
    await setFaults({ fill_delay_ms: 50, order_ttl_ms: 150 });
    await placeOrder({ client_order_id: 'brief', limit_price_cents: 20_000 }); // the price never allows it
    await placeOrder({ client_order_id: 'witness-2', limit_price_cents: 0 });
    expect(await waitFor('the expiry', () => executionOf('brief'))).toMatchObject({ kind: 'expired' });
    expect(await executionOf('witness-2')).toMatchObject({ kind: 'filled', price_cents: 10_012 });
    expect(await executionOf('slow-fill')).toBeUndefined(); // its fill delay (fixed when taken) runs on
  });

  it('withdraws a resting order on DELETE, once, and then never fills it', async () => {
    await pin('ACME', 9_000);
    await placeOrder({ client_order_id: 'withdraw-me' }); // a sell at 95.00: rests at 90.00
    const withdrawn = await exchange.app.inject({ method: 'DELETE', url: '/orders/withdraw-me' });
    expect(withdrawn.statusCode).toBe(200);
    expect(withdrawn.json()).toMatchObject({ client_order_id: 'withdraw-me', status: 'withdrawn' });
    await pin('ACME', 10_000);
    await placeOrder({ client_order_id: 'witness-3', limit_price_cents: 0 });
    await waitFor('the witness to fill', () => executionOf('witness-3'));
    expect(await executionOf('withdraw-me')).toBeUndefined();
    const again = await exchange.app.inject({ method: 'DELETE', url: '/orders/withdraw-me' });
    expect(again.json()).toMatchObject({ status: 'withdrawn', fill_price_cents: null });
    // a retry of the order that was withdrawn is refused, not taken again
    expect((await placeOrder({ client_order_id: 'withdraw-me' })).statusCode).toBe(409);
  });

  it('answers a cancel of a filled order with its fill: filled or withdrawn, never both', async () => {
    await pin('ACME', 10_012);
    await placeOrder({ client_order_id: 'too-late' });
    await waitFor('the fill', () => executionOf('too-late'));
    const answer = await exchange.app.inject({ method: 'DELETE', url: '/orders/too-late' });
    expect(answer.json()).toMatchObject({ status: 'filled', fill_price_cents: 10_012 });
  });

  it('refuses an order withdrawn before it arrived (the slow twin of an attempt its sender gave up on)', async () => {
    const unknown = await exchange.app.inject({ method: 'DELETE', url: '/orders/never-arrived' });
    expect(unknown.json()).toMatchObject({ status: 'withdrawn', exchange_order_id: null });
    const late = await placeOrder({ client_order_id: 'never-arrived' });
    expect(late.statusCode).toBe(409);
    expect(late.json().error.code).toBe('order_withdrawn');
    expect((await exchange.app.inject({ url: '/orders/never-arrived' })).json().status).toBe('withdrawn');
  });

  it('keeps its book, feed and epoch across a restart; resting orders fill afterwards', async () => {
    await pin('ACME', 9_000);
    await placeOrder({ client_order_id: 'rests-through-restart' });
    expect((await exchange.app.inject({ url: '/orders/rests-through-restart' })).json().status).toBe('open');
    const before = (await exchange.app.inject({ url: '/executions?after=0&limit=1000' })).json();
    await exchange.stop();
    exchange = await startService(stockExchange, { env, listen: false });
    const after = (await exchange.app.inject({ url: '/executions?after=0&limit=1000' })).json();
    expect(after.epoch).toBe(before.epoch);
    expect(after.executions.slice(0, before.executions.length)).toEqual(before.executions);
    // the restart forgot the pin (prices are news, not records): the walk from 100.00 meets 95.00
    expect(await waitFor('the fill', () => executionOf('rests-through-restart'))).toMatchObject({
      kind: 'filled',
    });
  });

  it('numbers the feed from 1 without gaps and pages it after a sequence number', async () => {
    const { executions } = (await exchange.app.inject({ url: '/executions?after=0&limit=1000' })).json();
    expect(executions.map((e: { seq: number }) => e.seq)).toEqual(
      executions.map((_: unknown, i: number) => i + 1),
    );
    const page = (await exchange.app.inject({ url: '/executions?after=1&limit=1' })).json();
    expect(page.executions.map((e: { seq: number }) => e.seq)).toEqual([2]);
  });
});
