import { randomUUID } from 'node:crypto';
import type { Faults } from './faults.ts';
import { match, type RestingOrder, type Side } from './matching.ts';
import { nextPrice } from './prices.ts';

export interface OrderRequest {
  client_order_id: string;
  side: Side;
  symbol: string;
  quantity: number;
  limit_price_cents: number;
}

export type OrderStatus = 'open' | 'filled' | 'expired';

export interface ExchangeOrder extends RestingOrder {
  exchangeOrderId: string;
  clientOrderId: string;
  symbol: string;
  quantity: number;
  status: OrderStatus;
  placedAt: number;
  fillPriceCents?: number;
}

/** One entry of the execution feed: an order filled or lapsed. */
export interface Execution {
  seq: number;
  client_order_id: string;
  exchange_order_id: string;
  kind: 'filled' | 'expired';
  price_cents?: number;
}

interface Price {
  openingCents: number;
  cents: number;
  at: number;
  pinned: boolean;
}

/**
 * The simulated exchange's whole state, in memory: prices, orders and the execution feed.
 * Time and randomness come from the caller, so it runs the same way in tests.
 */
export class SimulatedExchange {
  /** A new id per process: a consumer seeing it change knows the feed restarted from 1. */
  readonly epoch = randomUUID();
  private readonly prices = new Map<string, Price>();
  private readonly orders = new Map<string, ExchangeOrder>();
  private readonly open = new Set<ExchangeOrder>();
  private readonly feed: Execution[] = [];
  private orderNumber = 0;

  constructor(
    openings: Map<string, number>,
    public faults: Faults,
    now: number,
  ) {
    for (const [symbol, cents] of openings)
      this.prices.set(symbol, { openingCents: cents, cents, at: now, pinned: false });
  }

  setFaults(changes: Partial<Faults>): Faults {
    this.faults = { ...this.faults, ...changes };
    return this.faults;
  }

  quotes() {
    return [...this.prices].map(([symbol, price]) => quoteOf(symbol, price));
  }

  quote(symbol: string) {
    const price = this.prices.get(symbol);
    return price && quoteOf(symbol, price);
  }

  /** Holds a symbol at a price (random walk paused) until `unpin`. */
  pin(symbol: string, cents: number, now: number) {
    const price = this.prices.get(symbol);
    if (!price) return undefined;
    Object.assign(price, { cents, at: now, pinned: true });
    return quoteOf(symbol, price);
  }

  unpin(symbol: string) {
    const price = this.prices.get(symbol);
    if (!price) return undefined;
    price.pinned = false;
    return quoteOf(symbol, price);
  }

  /** One step of every unpinned symbol's random walk. */
  stepPrices(now: number, random: () => number): void {
    for (const price of this.prices.values()) {
      if (price.pinned) continue;
      const cents = nextPrice(price.cents, price.openingCents, random);
      if (cents !== price.cents) Object.assign(price, { cents, at: now });
    }
  }

  order(clientOrderId: string): ExchangeOrder | undefined {
    return this.orders.get(clientOrderId);
  }

  /** Takes a new order to rest on the book; the fill delay and lifetime are fixed at this moment. */
  accept(request: OrderRequest, now: number): ExchangeOrder {
    const order: ExchangeOrder = {
      exchangeOrderId: `X-${++this.orderNumber}`,
      clientOrderId: request.client_order_id,
      side: request.side,
      symbol: request.symbol,
      quantity: request.quantity,
      limitPriceCents: request.limit_price_cents,
      status: 'open',
      placedAt: now,
      fillableAt: now + this.faults.fill_delay_ms,
      expiresAt: now + this.faults.order_ttl_ms,
    };
    this.orders.set(order.clientOrderId, order);
    this.open.add(order);
    return order;
  }

  hasSymbol(symbol: string): boolean {
    return this.prices.has(symbol);
  }

  /** Fills or expires every resting order that is due, appending to the execution feed. */
  matchOpenOrders(now: number): void {
    for (const order of this.open) {
      const price = this.prices.get(order.symbol) as Price;
      const decision = match(order, price.cents, now);
      if (decision.kind === 'wait') continue;
      this.open.delete(order);
      const base = {
        seq: this.feed.length + 1,
        client_order_id: order.clientOrderId,
        exchange_order_id: order.exchangeOrderId,
      };
      if (decision.kind === 'fill') {
        order.status = 'filled';
        order.fillPriceCents = decision.priceCents;
        this.feed.push({ ...base, kind: 'filled', price_cents: decision.priceCents });
      } else {
        order.status = 'expired';
        this.feed.push({ ...base, kind: 'expired' });
      }
    }
  }

  /** Executions with `seq` greater than `after`, oldest first. */
  executionsAfter(after: number, limit: number): Execution[] {
    return this.feed.slice(after, after + limit);
  }
}

const quoteOf = (symbol: string, price: Price) => ({
  symbol,
  price_cents: price.cents,
  at: new Date(price.at).toISOString(),
  pinned: price.pinned,
});
