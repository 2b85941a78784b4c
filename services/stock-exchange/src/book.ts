import { lockUntilCommit, type Pool, type Tx, transaction } from '@simplebank/chassis';
import type { OrderSide } from '@simplebank/contracts';

export interface OrderRequest {
  client_order_id: string;
  side: OrderSide;
  symbol: string;
  quantity: number;
  limit_price_cents: number;
}

/** `withdrawn`: cancelled by its sender while it rested, or before it ever arrived. */
export type BookOrderStatus = 'open' | 'filled' | 'expired' | 'withdrawn';

export interface BookOrder {
  clientOrderId: string;
  /** Null only for the withdrawal of an order the exchange never took. */
  exchangeOrderId: string | null;
  side: OrderSide | null;
  symbol: string | null;
  quantity: number | null;
  limitPriceCents: number | null;
  status: BookOrderStatus;
  fillPriceCents: number | null;
  placedAt: Date | null;
}

/** One entry of the execution feed: an order filled or lapsed. */
export interface Execution {
  seq: number;
  client_order_id: string;
  exchange_order_id: string;
  kind: 'filled' | 'expired';
  price_cents?: number;
}

interface BookOrderRow {
  client_order_id: string;
  exchange_order_id: string | null;
  side: OrderSide | null;
  symbol: string | null;
  quantity: number | null;
  limit_price_cents: number | null;
  status: BookOrderStatus;
  fill_price_cents: number | null;
  placed_at: Date | null;
}

const orderOf = (row: BookOrderRow): BookOrder => ({
  clientOrderId: row.client_order_id,
  exchangeOrderId: row.exchange_order_id,
  side: row.side,
  symbol: row.symbol,
  quantity: row.quantity,
  limitPriceCents: row.limit_price_cents,
  status: row.status,
  fillPriceCents: row.fill_price_cents,
  placedAt: row.placed_at,
});

/** Serializes the matcher's appends to the feed (see 001_book.sql). */
const FEED_LOCK = 0x5e_feed;

/** The exchange's book and execution feed, in its own PostgreSQL database. */
export const book = {
  async epoch(pool: Pool): Promise<string> {
    const { rows } = await pool.query<{ epoch: string }>('SELECT epoch FROM feed_epoch');
    return (rows[0] as { epoch: string }).epoch;
  },

  async order(db: Pool | Tx, clientOrderId: string): Promise<BookOrder | undefined> {
    const { rows } = await db.query<BookOrderRow>(
      'SELECT * FROM exchange_orders WHERE client_order_id = $1',
      [clientOrderId],
    );
    return rows[0] && orderOf(rows[0]);
  },

  /**
   * Takes an order to rest on the book, its fill delay and lifetime fixed now; returns the order
   * the book already holds under that client_order_id instead, if any (a withdrawn one included).
   */
  async accept(
    pool: Pool,
    request: OrderRequest,
    now: Date,
    terms: { fillDelayMs: number; ttlMs: number },
  ): Promise<BookOrder> {
    const { rows } = await pool.query<BookOrderRow>(
      `INSERT INTO exchange_orders (client_order_id, exchange_order_id, side, symbol, quantity, limit_price_cents,
         status, placed_at, fillable_at, expires_at)
       VALUES ($1, 'X-' || nextval('exchange_order_number'), $2, $3, $4, $5, 'open', $6,
         $6::timestamptz + make_interval(secs => $7 / 1000.0), $6::timestamptz + make_interval(secs => $8 / 1000.0))
       ON CONFLICT (client_order_id) DO NOTHING RETURNING *`,
      [
        request.client_order_id,
        request.side,
        request.symbol,
        request.quantity,
        request.limit_price_cents,
        now,
        terms.fillDelayMs,
        terms.ttlMs,
      ],
    );
    if (rows[0]) return orderOf(rows[0]);
    return (await book.order(pool, request.client_order_id)) as BookOrder;
  },

  /**
   * Withdraws a resting order; an id the book never saw is recorded withdrawn, so the order can no
   * longer be taken. Returns the order as it ends: withdrawn, or filled or expired already, never both.
   */
  async withdraw(pool: Pool, clientOrderId: string, now: Date): Promise<BookOrder> {
    const { rows } = await pool.query<BookOrderRow>(
      `WITH unknown AS (
         INSERT INTO exchange_orders (client_order_id, status, ended_at) VALUES ($1, 'withdrawn', $2)
         ON CONFLICT (client_order_id) DO NOTHING RETURNING *
       ), withdrawn AS (
         UPDATE exchange_orders SET status = 'withdrawn', ended_at = $2
         WHERE client_order_id = $1 AND status = 'open' RETURNING *
       )
       SELECT * FROM unknown UNION ALL SELECT * FROM withdrawn`,
      [clientOrderId, now],
    );
    if (rows[0]) return orderOf(rows[0]);
    // it had ended already (filled or expired), or was withdrawn before
    return (await book.order(pool, clientOrderId)) as BookOrder;
  },

  /**
   * Fills every resting order that is due at the current `prices` (a buy at or below its limit, a
   * sell at or above it, not before its fill delay), and expires every order past its lifetime
   * (expiry wins at the deadline); appends each to the feed. Returns how many ended.
   */
  async match(pool: Pool, prices: Map<string, number>, now: Date): Promise<number> {
    return transaction(pool, async (tx) => {
      await lockUntilCommit(tx, FEED_LOCK);
      const { rowCount } = await tx.query(
        `WITH price AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS p(symbol, cents)),
         ended AS (
           UPDATE exchange_orders o
           SET status = CASE WHEN o.expires_at <= $3 THEN 'expired' ELSE 'filled' END,
               fill_price_cents = CASE WHEN o.expires_at <= $3 THEN NULL ELSE price.cents END,
               ended_at = $3
           FROM price
           WHERE o.status = 'open' AND o.symbol = price.symbol AND (
             o.expires_at <= $3 OR (o.fillable_at <= $3 AND
               CASE o.side WHEN 'buy' THEN price.cents <= o.limit_price_cents
                           ELSE price.cents >= o.limit_price_cents END))
           RETURNING o.client_order_id, o.exchange_order_id, o.status, o.fill_price_cents, o.placed_at
         ),
         last AS (SELECT COALESCE(max(seq), 0) AS seq FROM executions)
         INSERT INTO executions (seq, client_order_id, exchange_order_id, kind, price_cents)
         SELECT last.seq + row_number() OVER (ORDER BY ended.placed_at, ended.client_order_id),
                ended.client_order_id, ended.exchange_order_id, ended.status, ended.fill_price_cents
         FROM ended, last`,
        [[...prices.keys()], [...prices.values()], now],
      );
      return rowCount ?? 0;
    });
  },

  /** Executions with `seq` greater than `after`, oldest first. */
  async executionsAfter(pool: Pool, after: number, limit: number): Promise<Execution[]> {
    const { rows } = await pool.query<{
      seq: number;
      client_order_id: string;
      exchange_order_id: string;
      kind: 'filled' | 'expired';
      price_cents: number | null;
    }>('SELECT * FROM executions WHERE seq > $1 ORDER BY seq LIMIT $2', [after, limit]);
    return rows.map(({ price_cents, ...execution }) =>
      price_cents === null ? execution : { ...execution, price_cents },
    );
  },
};
