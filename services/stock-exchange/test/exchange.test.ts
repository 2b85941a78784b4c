import { describe, expect, it } from 'vitest';
import { SimulatedExchange } from '../src/exchange.ts';

const faults = { latency_ms: 0, error_rate: 0, reject_rate: 0, fill_delay_ms: 200, order_ttl_ms: 1_000 };
const sell = {
  client_order_id: 'c-1',
  side: 'sell' as const,
  symbol: 'ACME',
  quantity: 10,
  limit_price_cents: 9_500,
};
const opened = () => new SimulatedExchange(new Map([['ACME', 10_000]]), { ...faults }, 0);

describe('simulated exchange', () => {
  it('fills a resting order after the fill delay and reports it on the feed', () => {
    const exchange = opened();
    const order = exchange.accept(sell, 0);
    exchange.matchOpenOrders(199);
    expect(exchange.executionsAfter(0, 10)).toEqual([]);
    exchange.matchOpenOrders(200);
    expect(exchange.executionsAfter(0, 10)).toEqual([
      {
        seq: 1,
        client_order_id: 'c-1',
        exchange_order_id: order.exchangeOrderId,
        kind: 'filled',
        price_cents: 10_000,
      },
    ]);
    expect(exchange.order('c-1')).toMatchObject({ status: 'filled', fillPriceCents: 10_000 });
    exchange.matchOpenOrders(5_000);
    expect(exchange.executionsAfter(0, 10)).toHaveLength(1); // reported once
  });

  it('holds a pinned price through the random walk, and walks again once unpinned', () => {
    const exchange = opened();
    exchange.pin('ACME', 9_000, 10);
    exchange.stepPrices(20, () => 0);
    expect(exchange.quote('ACME')).toMatchObject({ price_cents: 9_000, pinned: true });
    exchange.unpin('ACME');
    exchange.stepPrices(30, () => 0);
    expect(exchange.quote('ACME')).toMatchObject({ price_cents: 8_955, pinned: false });
  });

  it('expires an order whose limit the price never meets', () => {
    const exchange = opened();
    exchange.pin('ACME', 9_000, 0);
    exchange.accept(sell, 0);
    exchange.matchOpenOrders(999);
    exchange.matchOpenOrders(1_000);
    expect(exchange.executionsAfter(0, 10)).toMatchObject([{ seq: 1, kind: 'expired' }]);
    expect(exchange.executionsAfter(0, 10)[0]).not.toHaveProperty('price_cents');
  });

  it('keeps the fill delay and lifetime an order was accepted with', () => {
    const exchange = opened();
    exchange.accept(sell, 0);
    exchange.setFaults({ fill_delay_ms: 10_000 });
    exchange.matchOpenOrders(200);
    expect(exchange.executionsAfter(0, 10)).toMatchObject([{ kind: 'filled' }]);
  });

  it('pages the feed after a sequence number', () => {
    const exchange = opened();
    for (const id of ['a', 'b', 'c']) exchange.accept({ ...sell, client_order_id: id }, 0);
    exchange.matchOpenOrders(200);
    expect(exchange.executionsAfter(1, 1).map((e) => e.seq)).toEqual([2]);
    expect(exchange.executionsAfter(3, 10)).toEqual([]);
  });
});
