import type { Pool, Tx } from '@simplebank/chassis';
import { type OrderSide, UUID } from '@simplebank/contracts';
import type { Arrival, PlacementStatus, PlacementTerms, Prerequisites } from '../domain/prerequisites.ts';

export interface Placement extends Prerequisites {
  orderId: string;
  accountId: string;
  reason: string | null;
  side: OrderSide | null;
  symbol: string | null;
  quantity: number | null;
  limitPriceCents: number | null;
  feeCents: number | null;
  readyAt: Date | null;
  attempts: number;
  cancelRequested: boolean;
  exchangeOrderId: string | null;
  fillPriceCents: number | null;
}

/** A placement whose order is known: OrderCreated has arrived. */
export type KnownPlacement = Placement & PlacementTerms;

interface PlacementRow {
  order_id: string;
  account_id: string;
  status: PlacementStatus;
  reason: string | null;
  side: OrderSide | null;
  symbol: string | null;
  quantity: number | null;
  limit_price_cents: number | null;
  position_reserved: boolean;
  fee_cents: number | null;
  ready_at: Date | null;
  attempts: number;
  in_doubt: boolean;
  cancel_requested_at: Date | null;
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
  inDoubt: row.in_doubt,
  cancelRequested: row.cancel_requested_at !== null,
  exchangeOrderId: row.exchange_order_id,
  fillPriceCents: row.fill_price_cents,
  orderCreated: row.side !== null,
  positionReserved: row.position_reserved,
  feeCharged: row.fee_cents !== null,
});

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
  async ready(tx: Tx, orderId: string): Promise<void> {
    await tx.query(
      `UPDATE placements SET status = 'ready', ready_at = now(), next_attempt_at = now(), updated_at = now()
       WHERE order_id = $1`,
      [orderId],
    );
  },

  /** The customer's cancel of an order the exchange may hold: the worker withdraws it at once. */
  async requestCancel(tx: Tx, orderId: string): Promise<void> {
    await tx.query(
      `UPDATE placements SET cancel_requested_at = COALESCE(cancel_requested_at, now()), next_attempt_at = now(),
         updated_at = now() WHERE order_id = $1`,
      [orderId],
    );
  },

  /** Ends an order before it traded: failed or canceled, with the reason. */
  async close(tx: Tx, orderId: string, status: 'failed' | 'canceled', reason: string): Promise<void> {
    await tx.query(
      `UPDATE placements SET status = $2, reason = $3, in_doubt = false, next_attempt_at = NULL, updated_at = now()
       WHERE order_id = $1`,
      [orderId, status, reason],
    );
  },

  /**
   * Locks up to `limit` open placements that are due and that no other transaction holds, oldest
   * first, with the database's clock: one pass of the placement worker.
   */
  async claimDue(tx: Tx, limit: number): Promise<{ placement: KnownPlacement; now: number }[]> {
    const { rows } = await tx.query<PlacementRow & { db_now: Date }>(
      `SELECT *, now() AS db_now FROM placements
       WHERE next_attempt_at <= now() AND status IN ('ready', 'placed')
       ORDER BY next_attempt_at LIMIT $1
       FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    return rows.map((row) => ({ placement: placementOf(row) as KnownPlacement, now: row.db_now.getTime() }));
  },

  /**
   * Records that calls to the exchange are about to be made, before they are made: an attempt to
   * place makes the placement in doubt until an answer says otherwise; nobody else takes it up
   * before `leaseMs` (a crash mid-call leaves it to be taken up then).
   */
  async callingAll(tx: Tx, calls: { orderId: string; placing: boolean }[], leaseMs: number): Promise<void> {
    if (calls.length === 0) return;
    await tx.query(
      `UPDATE placements p SET attempts = p.attempts + 1, in_doubt = p.in_doubt OR c.places,
         next_attempt_at = now() + make_interval(secs => $3 / 1000.0), updated_at = now()
       FROM unnest($1::uuid[], $2::boolean[]) AS c(order_id, places)
       WHERE p.order_id = c.order_id`,
      [calls.map((c) => c.orderId), calls.map((c) => c.placing), leaseMs],
    );
  },

  /**
   * Locks the placements of `orderIds` that no other transaction holds, to record answers; with
   * the database's clock. The others are for `lockForAnswer`, one at a time.
   */
  async lockFreeForAnswers(
    tx: Tx,
    orderIds: string[],
  ): Promise<{ placement: KnownPlacement; now: number }[]> {
    const { rows } = await tx.query<PlacementRow & { db_now: Date }>(
      'SELECT *, now() AS db_now FROM placements WHERE order_id = ANY($1::uuid[]) FOR UPDATE SKIP LOCKED',
      [orderIds],
    );
    return rows.map((row) => ({ placement: placementOf(row) as KnownPlacement, now: row.db_now.getTime() }));
  },

  /** Locks a placement to record an answer, waiting for any other holder; with the database's clock. */
  async lockForAnswer(tx: Tx, orderId: string): Promise<{ placement: KnownPlacement; now: number }> {
    const { rows } = await tx.query<PlacementRow & { db_now: Date }>(
      'SELECT *, now() AS db_now FROM placements WHERE order_id = $1 FOR UPDATE',
      [orderId],
    );
    const row = rows[0] as PlacementRow & { db_now: Date };
    return { placement: placementOf(row) as KnownPlacement, now: row.db_now.getTime() };
  },

  /**
   * On the exchange; asked after again at `checkAt` (ms; null when it ends in the same transaction),
   * or at once when a cancel waits.
   */
  async placed(tx: Tx, orderId: string, exchangeOrderId: string, checkAt: number | null): Promise<void> {
    await tx.query(
      `UPDATE placements SET status = 'placed', exchange_order_id = $2, in_doubt = false,
         next_attempt_at = CASE WHEN cancel_requested_at IS NULL THEN to_timestamp($3 / 1000.0) ELSE now() END,
         updated_at = now()
       WHERE order_id = $1`,
      [orderId, exchangeOrderId, checkAt],
    );
  },

  /** The exchange gave no usable answer: the same step again at `at` (ms). */
  async retryAt(tx: Tx, orderId: string, at: number, error: string, inDoubt: boolean): Promise<void> {
    await tx.query(
      `UPDATE placements SET next_attempt_at = to_timestamp($2 / 1000.0), last_error = $3, in_doubt = $4,
         updated_at = now()
       WHERE order_id = $1`,
      [orderId, at, error, inDoubt],
    );
  },

  /**
   * A placed order still resting on the exchange: asked after again at `at` (ms), or at once when
   * the customer's cancel came while the question was out (so the next pass withdraws it).
   */
  async checkAt(tx: Tx, orderId: string, at: number): Promise<void> {
    await tx.query(
      `UPDATE placements SET updated_at = now(),
         next_attempt_at = CASE WHEN cancel_requested_at IS NULL THEN to_timestamp($2 / 1000.0) ELSE now() END
       WHERE order_id = $1`,
      [orderId, at],
    );
  },

  /** The exchange's feed restarted (its book was lost): ask after every placed order at once. */
  async checkAllPlaced(db: Pool | Tx): Promise<number> {
    const { rowCount } = await db.query(
      `UPDATE placements SET next_attempt_at = now(), updated_at = now() WHERE status = 'placed'`,
    );
    return rowCount ?? 0;
  },

  async executed(tx: Tx, orderId: string, fillPriceCents: number): Promise<void> {
    await tx.query(
      `UPDATE placements SET status = 'executed', fill_price_cents = $2, in_doubt = false, next_attempt_at = NULL,
         updated_at = now() WHERE order_id = $1`,
      [orderId, fillPriceCents],
    );
  },

  async expired(tx: Tx, orderId: string): Promise<void> {
    await tx.query(
      `UPDATE placements SET status = 'expired', in_doubt = false, next_attempt_at = NULL, updated_at = now()
       WHERE order_id = $1`,
      [orderId],
    );
  },
};
