import type { Pool, Tx } from '@simplebank/chassis';
import type { Arrival, OrderTerms, PlacementStatus, Prerequisites } from './prerequisites.ts';

export interface Placement extends Prerequisites {
  orderId: string;
  accountId: string;
  reason: string | null;
  side: 'sell' | 'buy' | null;
  symbol: string | null;
  quantity: number | null;
  limitPriceCents: number | null;
  feeCents: number | null;
  readyAt: Date | null;
  attempts: number;
  exchangeOrderId: string | null;
  fillPriceCents: number | null;
}

/** A placement whose order is known: OrderCreated has arrived. */
export type KnownPlacement = Placement & OrderTerms;

interface PlacementRow {
  order_id: string;
  account_id: string;
  status: PlacementStatus;
  reason: string | null;
  side: 'sell' | 'buy' | null;
  symbol: string | null;
  quantity: number | null;
  limit_price_cents: number | null;
  position_reserved: boolean;
  fee_cents: number | null;
  ready_at: Date | null;
  attempts: number;
  exchange_order_id: string | null;
  fill_price_cents: number | null;
}

const placementOf = (row: PlacementRow): Placement => ({
  orderId: row.order_id,
  accountId: row.account_id,
  status: row.status,
  reason: row.reason,
  side: row.side,
  symbol: row.symbol,
  quantity: row.quantity,
  limitPriceCents: row.limit_price_cents,
  feeCents: row.fee_cents,
  readyAt: row.ready_at,
  attempts: row.attempts,
  exchangeOrderId: row.exchange_order_id,
  fillPriceCents: row.fill_price_cents,
  orderCreated: row.side !== null,
  positionReserved: row.position_reserved,
  feeCharged: row.fee_cents !== null,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Market's store: one placement row per order. */
export const placements = {
  /** The order's row, locked; created empty when this is the first event about the order. */
  async open(tx: Tx, orderId: string, accountId: string): Promise<Placement> {
    await tx.query('INSERT INTO placements (order_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
      orderId,
      accountId,
    ]);
    return (await placements.find(tx, orderId)) as Placement;
  },

  async find(tx: Tx | Pool, orderId: string, { lock = true } = {}): Promise<Placement | undefined> {
    if (!UUID.test(orderId)) return undefined; // the exchange also carries orders that are not ours
    const { rows } = await tx.query<PlacementRow>(
      `SELECT * FROM placements WHERE order_id = $1 ${lock ? 'FOR UPDATE' : ''}`,
      [orderId],
    );
    return rows[0] && placementOf(rows[0]);
  },

  /**
   * The rows of `orderIds` that are free, locked, in one round trip; and which of the others exist
   * (held by another transaction, such as a placement waiting on the exchange).
   */
  async lockFree(tx: Tx, orderIds: string[]): Promise<{ free: Map<string, Placement>; held: Set<string> }> {
    const ours = orderIds.filter((id) => UUID.test(id));
    const { rows } = await tx.query<PlacementRow>(
      'SELECT * FROM placements WHERE order_id = ANY($1::uuid[]) FOR UPDATE SKIP LOCKED',
      [ours],
    );
    const free = new Map(rows.map((row) => [row.order_id, placementOf(row)]));
    const others = ours.filter((id) => !free.has(id));
    if (others.length === 0) return { free, held: new Set() };
    const existing = await tx.query<{ order_id: string }>(
      'SELECT order_id FROM placements WHERE order_id = ANY($1::uuid[])',
      [others],
    );
    return { free, held: new Set(existing.rows.map((r) => r.order_id)) };
  },

  /** Records a prerequisite that arrived. */
  async record(tx: Tx, orderId: string, arrival: Arrival): Promise<void> {
    if (arrival.kind === 'order_created') {
      const { side, symbol, quantity, limitPriceCents } = arrival.order;
      await tx.query(
        `UPDATE placements SET side = $2, symbol = $3, quantity = $4, limit_price_cents = $5, updated_at = now()
         WHERE order_id = $1`,
        [orderId, side, symbol, quantity, limitPriceCents],
      );
    } else if (arrival.kind === 'position_reserved') {
      await tx.query(
        'UPDATE placements SET position_reserved = true, updated_at = now() WHERE order_id = $1',
        [orderId],
      );
    } else if (arrival.kind === 'fee_charged') {
      await tx.query('UPDATE placements SET fee_cents = $2, updated_at = now() WHERE order_id = $1', [
        orderId,
        arrival.feeCents,
      ]);
    }
  },

  /** Every prerequisite is in: the order is due for placement at once, and its deadline starts. */
  async ready(tx: Tx, orderId: string, now: Date): Promise<void> {
    await tx.query(
      `UPDATE placements SET status = 'ready', ready_at = $2, next_attempt_at = $2, updated_at = now() WHERE order_id = $1`,
      [orderId, now],
    );
  },

  /** Ends an order before it traded: failed or canceled, with the reason. */
  async close(tx: Tx, orderId: string, status: 'failed' | 'canceled', reason: string): Promise<void> {
    await tx.query(
      `UPDATE placements SET status = $2, reason = $3, next_attempt_at = NULL, updated_at = now() WHERE order_id = $1`,
      [orderId, status, reason],
    );
  },

  /** Ready orders due for an attempt, oldest first. */
  async due(pool: Pool, now: Date, limit: number): Promise<string[]> {
    const { rows } = await pool.query<{ order_id: string }>(
      `SELECT order_id FROM placements WHERE status = 'ready' AND next_attempt_at <= $1
       ORDER BY next_attempt_at LIMIT $2`,
      [now, limit],
    );
    return rows.map((r) => r.order_id);
  },

  /** Locks a ready order still due; undefined when it was placed, canceled or taken by another instance. */
  async lockDue(tx: Tx, orderId: string, now: Date): Promise<KnownPlacement | undefined> {
    const { rows } = await tx.query<PlacementRow>(
      `SELECT * FROM placements WHERE order_id = $1 AND status = 'ready' AND next_attempt_at <= $2
       FOR UPDATE SKIP LOCKED`,
      [orderId, now],
    );
    return rows[0] && (placementOf(rows[0]) as KnownPlacement);
  },

  async placed(tx: Tx, orderId: string, exchangeOrderId: string): Promise<void> {
    await tx.query(
      `UPDATE placements SET status = 'placed', exchange_order_id = $2, next_attempt_at = NULL, updated_at = now()
       WHERE order_id = $1`,
      [orderId, exchangeOrderId],
    );
  },

  async retryAt(tx: Tx, orderId: string, at: Date, error: string): Promise<void> {
    await tx.query(
      `UPDATE placements SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3, updated_at = now()
       WHERE order_id = $1`,
      [orderId, at, error],
    );
  },

  async executed(tx: Tx, orderId: string, fillPriceCents: number): Promise<void> {
    await tx.query(
      `UPDATE placements SET status = 'executed', fill_price_cents = $2, updated_at = now() WHERE order_id = $1`,
      [orderId, fillPriceCents],
    );
  },

  async expired(tx: Tx, orderId: string): Promise<void> {
    await tx.query(`UPDATE placements SET status = 'expired', updated_at = now() WHERE order_id = $1`, [
      orderId,
    ]);
  },
};
