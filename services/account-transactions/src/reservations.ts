import { lockUntilCommit, type Tx } from '@simplebank/chassis';
import type { OrderSide } from '@simplebank/contracts';
import type { Hold } from './domain/ledger.ts';

export type ReservationStatus = 'held' | 'released' | 'settled' | 'declined' | 'void';

export interface Reservation {
  order_id: string;
  account_id: string;
  side: OrderSide | null;
  symbol: string | null;
  shares: number;
  cash_cents: number;
  status: ReservationStatus;
  reason: string | null;
}

/** The reservations store: one row per order, what T2 held for it and what became of the hold. */
export const reservations = {
  /**
   * Serializes everything about one order until the transaction ends, including the first insert
   * of its row: OrderCreated and OrderFailed arrive on different queues and may run at once.
   * Always taken before any balance lock.
   */
  async lockOrder(tx: Tx, orderId: string): Promise<void> {
    await lockUntilCommit(tx, orderId);
  },

  async find(tx: Tx, orderId: string): Promise<Reservation | undefined> {
    const { rows } = await tx.query<Reservation>('SELECT * FROM reservations WHERE order_id = $1', [orderId]);
    return rows[0];
  },

  async hold(tx: Tx, orderId: string, hold: Hold): Promise<void> {
    await tx.query(
      `INSERT INTO reservations (order_id, account_id, side, symbol, shares, cash_cents, status)
       VALUES ($1, $2, $3, $4, $5, $6, 'held')`,
      [orderId, hold.accountId, hold.side, hold.symbol, hold.shares, hold.cashCents],
    );
  },

  async decline(
    tx: Tx,
    order: { orderId: string; accountId: string; side: OrderSide; symbol: string },
    reason: string,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO reservations (order_id, account_id, side, symbol, status, reason) VALUES ($1, $2, $3, $4, 'declined', $5)`,
      [order.orderId, order.accountId, order.side, order.symbol, reason],
    );
  },

  /** A release that found nothing to release: a late OrderCreated for this order then holds nothing. */
  async tombstone(tx: Tx, orderId: string, accountId: string, reason: string): Promise<void> {
    await tx.query(
      `INSERT INTO reservations (order_id, account_id, status, reason) VALUES ($1, $2, 'void', $3)`,
      [orderId, accountId, reason],
    );
  },

  async close(tx: Tx, orderId: string, status: 'released' | 'settled', reason?: string): Promise<void> {
    await tx.query(
      `UPDATE reservations SET status = $2, reason = COALESCE($3, reason), updated_at = now() WHERE order_id = $1`,
      [orderId, status, reason ?? null],
    );
  },
};

/** The hold a 'held' (or released/settled) reservation stands for. */
export function holdOf(reservation: Reservation): Hold {
  if (!reservation.side || !reservation.symbol)
    throw new Error(`reservation ${reservation.order_id} holds nothing`);
  return {
    accountId: reservation.account_id,
    side: reservation.side,
    symbol: reservation.symbol,
    shares: reservation.shares,
    cashCents: reservation.cash_cents,
  };
}
