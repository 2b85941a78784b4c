import type { Pool, Tx } from '@simplebank/chassis';
import type { OrderCreated, OrderSide, PayloadOf } from '@simplebank/contracts';
import type { PagePosition } from './domain/cursor.ts';
import { isCancelable, type OrderStatus, type StatusChange, statusChange } from './domain/order-status.ts';

export interface OrderRow {
  order_id: string;
  account_id: string;
  side: OrderSide;
  symbol: string;
  quantity: number;
  limit_price_cents: number;
  max_fee_cents: number;
  status: OrderStatus;
  fee_cents: number | null;
  fill_price_cents: number | null;
  reason: string | null;
  exchange_order_id: string | null;
  /** When the customer asked to cancel; the status stays `created` until market answers. */
  cancel_requested_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface HistoryRow {
  order_id: string;
  status: OrderStatus;
  reason: string | null;
  at: Date;
}

export interface OrderWithHistory {
  order: OrderRow;
  history: HistoryRow[];
}

/** An order as it is created: what OrderCreated carries. */
export type NewOrder = PayloadOf<typeof OrderCreated>;

/** What an event tells about an order besides its status. */
export interface OrderFacts {
  reason?: string;
  feeCents?: number;
  fillPriceCents?: number;
  exchangeOrderId?: string;
}

/** The orders service's store: one row per order and the statuses it went through. */
export const orders = {
  /** T1: stores the order `created` with its first history row; returns the existing order instead, if any. */
  async create(tx: Tx, order: NewOrder): Promise<OrderRow | undefined> {
    const inserted = await tx.query(
      `INSERT INTO orders (order_id, account_id, side, symbol, quantity, limit_price_cents, max_fee_cents, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'created') ON CONFLICT (order_id) DO NOTHING`,
      [
        order.orderId,
        order.accountId,
        order.side,
        order.symbol,
        order.quantity,
        order.limitPriceCents,
        order.maxFeeCents,
      ],
    );
    if (inserted.rowCount === 0) {
      const { rows } = await tx.query<OrderRow>('SELECT * FROM orders WHERE order_id = $1', [order.orderId]);
      return rows[0];
    }
    await tx.query(
      `INSERT INTO order_history (order_id, status, at) SELECT order_id, status, created_at FROM orders WHERE order_id = $1`,
      [order.orderId],
    );
    return undefined;
  },

  /**
   * Applies news that the order reached `next` (at `at`) as the state machine allows: moves it
   * forward, or only records it in the history. Undefined when there is no such order.
   */
  async moveTo(
    tx: Tx,
    orderId: string,
    next: OrderStatus,
    at: string,
    facts: OrderFacts = {},
  ): Promise<{ from: OrderStatus; change: StatusChange; order: OrderRow } | undefined> {
    const { rows } = await tx.query<OrderRow>('SELECT * FROM orders WHERE order_id = $1 FOR UPDATE', [
      orderId,
    ]);
    const order = rows[0];
    if (!order) return undefined;
    const change = statusChange(order.status, next);
    if (change === 'ignore') return { from: order.status, change, order };
    await tx.query(
      `UPDATE orders SET status = COALESCE($2, status), reason = COALESCE($3, reason),
         fee_cents = COALESCE($4, fee_cents), fill_price_cents = COALESCE($5, fill_price_cents),
         exchange_order_id = COALESCE($6, exchange_order_id), updated_at = now()
       WHERE order_id = $1`,
      [
        orderId,
        change === 'advance' ? next : null,
        facts.reason ?? null,
        facts.feeCents ?? null,
        facts.fillPriceCents ?? null,
        facts.exchangeOrderId ?? null,
      ],
    );
    // Each status is reached once; a second event announcing it adds nothing to the history.
    await tx.query(
      `INSERT INTO order_history (order_id, status, reason, at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (order_id, status) DO NOTHING`,
      [orderId, next, facts.reason ?? null, at],
    );
    return { from: order.status, change, order };
  },

  /**
   * Records the customer's wish to cancel an order of `accountId` still `created` or `placed`, once. Returns
   * the order as it was (locked until the transaction ends) and whether this call recorded the
   * request; undefined when the account has no such order.
   */
  async requestCancel(
    tx: Tx,
    orderId: string,
    accountId: string,
  ): Promise<{ order: OrderRow; recorded: boolean } | undefined> {
    const { rows } = await tx.query<OrderRow>(
      'SELECT * FROM orders WHERE order_id = $1 AND account_id = $2 FOR UPDATE',
      [orderId, accountId],
    );
    const order = rows[0];
    if (!order) return undefined;
    if (!isCancelable(order.status) || order.cancel_requested_at !== null) return { order, recorded: false };
    await tx.query('UPDATE orders SET cancel_requested_at = now(), updated_at = now() WHERE order_id = $1', [
      orderId,
    ]);
    return { order, recorded: true };
  },

  async get(pool: Pool, orderId: string): Promise<OrderWithHistory | undefined> {
    const { rows } = await pool.query<OrderRow>('SELECT * FROM orders WHERE order_id = $1', [orderId]);
    const [found] = await withHistory(pool, rows);
    return found;
  },

  /**
   * A page of an account's orders, newest first (by created_at, then order_id), starting after
   * `after` when given. Reads one more than `limit` to tell whether another page follows.
   */
  async listByAccount(
    pool: Pool,
    accountId: string,
    page: { limit: number; after?: PagePosition | undefined },
  ): Promise<{ orders: OrderWithHistory[]; next: PagePosition | null }> {
    // Row comparison on the index's own order (account_id, created_at DESC, order_id DESC).
    const { rows } = page.after
      ? await pool.query<OrderRow>(
          `SELECT * FROM orders WHERE account_id = $1 AND (created_at, order_id) < ($2, $3)
           ORDER BY created_at DESC, order_id DESC LIMIT $4`,
          [accountId, page.after.createdAt, page.after.orderId, page.limit + 1],
        )
      : await pool.query<OrderRow>(
          `SELECT * FROM orders WHERE account_id = $1
           ORDER BY created_at DESC, order_id DESC LIMIT $2`,
          [accountId, page.limit + 1],
        );
    const more = rows.length > page.limit;
    const shown = more ? rows.slice(0, page.limit) : rows;
    const last = shown.at(-1);
    return {
      orders: await withHistory(pool, shown),
      next: more && last ? { createdAt: last.created_at, orderId: last.order_id } : null,
    };
  },
};

async function withHistory(pool: Pool, rows: OrderRow[]): Promise<OrderWithHistory[]> {
  if (rows.length === 0) return [];
  const history = await pool.query<HistoryRow>(
    'SELECT order_id, status, reason, at FROM order_history WHERE order_id = ANY($1) ORDER BY at, id',
    [rows.map((r) => r.order_id)],
  );
  return rows.map((order) => ({ order, history: history.rows.filter((h) => h.order_id === order.order_id) }));
}
