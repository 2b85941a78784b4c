import { lockUntilCommit, type Pool, type Tx } from '@simplebank/chassis';

export type ChargeStatus = 'charged' | 'refunded' | 'declined' | 'void';

export interface Charge {
  order_id: string;
  account_id: string;
  fee_cents: number;
  status: ChargeStatus;
  reason: string | null;
}

/** The fees service's store: one charge row per order. */
export const charges = {
  /**
   * Serializes everything about one order until the transaction ends, including the first insert
   * of its row: OrderCreated (charge) and OrderFailed (refund) arrive on different queues and may
   * run at once; without it both could find no row and one insert would fail on the primary key.
   */
  async lockOrder(tx: Tx, orderId: string): Promise<void> {
    await lockUntilCommit(tx, orderId);
  },

  /** The order's charge as it stands, for reading (no lock). */
  async ofOrder(pool: Pool, orderId: string): Promise<Charge | undefined> {
    const { rows } = await pool.query<Charge>('SELECT * FROM charges WHERE order_id = $1', [orderId]);
    return rows[0];
  },

  async find(tx: Tx, orderId: string): Promise<Charge | undefined> {
    const { rows } = await tx.query<Charge>('SELECT * FROM charges WHERE order_id = $1 FOR UPDATE', [
      orderId,
    ]);
    return rows[0];
  },

  async record(
    tx: Tx,
    charge: { orderId: string; accountId: string; feeCents: number; status: ChargeStatus; reason?: string },
  ): Promise<void> {
    await tx.query(
      'INSERT INTO charges (order_id, account_id, fee_cents, status, reason) VALUES ($1, $2, $3, $4, $5)',
      [charge.orderId, charge.accountId, charge.feeCents, charge.status, charge.reason ?? null],
    );
  },

  /** C3. Refunds a charged fee once; leaves a tombstone when there was nothing to refund yet. */
  async refund(tx: Tx, orderId: string, accountId: string, reason: string): Promise<'refunded' | 'nothing'> {
    await charges.lockOrder(tx, orderId);
    const existing = await charges.find(tx, orderId);
    if (!existing) {
      await charges.record(tx, { orderId, accountId, feeCents: 0, status: 'void', reason });
      return 'nothing';
    }
    if (existing.status !== 'charged') return 'nothing';
    await tx.query(
      `UPDATE charges SET status = 'refunded', reason = $2, updated_at = now() WHERE order_id = $1`,
      [orderId, reason],
    );
    return 'refunded';
  },
};
