import type { Pool, Tx } from '@simplebank/chassis';
import {
  type Bucket,
  bucketChanges,
  CASH,
  EQUITY,
  EXCHANGE,
  FEES,
  isBalanced,
  type Posting,
} from './ledger.ts';

export type EntryKind = 'opening' | 'reserve' | 'release' | 'settle';

export interface StatementLine {
  asset: string;
  opening: number;
  /** Net amount the account's trades brought in (negative when they took it out). */
  fills: number;
  fees: number;
  closing: number;
}

/** The ledger's store: journal entries with their postings, and the customer balances they add up to. */
export const journal = {
  /**
   * Locks an account's balance rows for `assets` and returns them. Rows are locked in one order
   * (by asset, byte-wise, as `bucketChanges` sorts), so two orders on one account cannot deadlock.
   */
  async lockBalances(tx: Tx, accountId: string, assets: readonly string[]): Promise<Map<string, Bucket>> {
    const { rows } = await tx.query<Bucket & { asset: string }>(
      `SELECT asset, available, reserved FROM balances
       WHERE account_id = $1 AND asset = ANY($2::text[])
       ORDER BY asset COLLATE "C" FOR UPDATE`,
      [accountId, [...new Set(assets)]],
    );
    return new Map(rows.map(({ asset, ...bucket }) => [asset, bucket]));
  },

  /** Records one entry and applies it to the balances, in the caller's transaction. */
  async post(tx: Tx, entry: { accountId: string; orderId?: string; kind: EntryKind }, postings: Posting[]) {
    if (!isBalanced(postings)) throw new Error(`${entry.kind} entry for ${entry.accountId} does not balance`);
    if (postings.length === 0) return;
    const { rows } = await tx.query<{ id: number }>(
      'INSERT INTO journal_entries (account_id, order_id, kind) VALUES ($1, $2, $3) RETURNING id',
      [entry.accountId, entry.orderId ?? null, entry.kind],
    );
    await tx.query(
      `INSERT INTO postings (entry_id, ledger_account, asset, amount)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[])`,
      [
        rows[0]?.id,
        postings.map((p) => p.ledgerAccount),
        postings.map((p) => p.asset),
        postings.map((p) => p.amount),
      ],
    );
    for (const change of bucketChanges(postings)) {
      const values = [change.accountId, change.asset, change.available, change.reserved];
      const updated = await tx.query(
        'UPDATE balances SET available = available + $3, reserved = reserved + $4 WHERE account_id = $1 AND asset = $2',
        values,
      );
      // A position the account did not have yet (a buy's shares, an opening balance).
      if (updated.rowCount === 0) {
        await tx.query(
          'INSERT INTO balances (account_id, asset, available, reserved) VALUES ($1, $2, $3, $4)',
          values,
        );
      }
    }
  },

  /** The sum of every posting per asset (all zero when the ledger balances). */
  async totals(db: Pool): Promise<Map<string, number>> {
    const { rows } = await db.query<{ asset: string; total: number }>(
      'SELECT asset, sum(amount)::bigint AS total FROM postings GROUP BY asset ORDER BY asset',
    );
    return new Map(rows.map((r) => [r.asset, r.total]));
  },

  /** How many customer buckets differ from the sum of their postings (0 when the two agree). */
  async bucketsAstray(db: Pool): Promise<number> {
    const { rows } = await db.query<{ astray: number }>(
      `WITH journal AS (
         SELECT split_part(ledger_account, ':', 1) AS account_id, asset,
                coalesce(sum(amount) FILTER (WHERE ledger_account LIKE '%:available'), 0) AS available,
                coalesce(sum(amount) FILTER (WHERE ledger_account LIKE '%:reserved'), 0) AS reserved
         FROM postings WHERE ledger_account LIKE '%:%' GROUP BY 1, 2)
       SELECT count(*) AS astray
       FROM balances b FULL JOIN journal j USING (account_id, asset)
       WHERE coalesce(b.available, 0) <> coalesce(j.available, 0) OR coalesce(b.reserved, 0) <> coalesce(j.reserved, 0)`,
    );
    return rows[0]?.astray ?? 0;
  },

  /**
   * Per asset: the opening balance, what trades brought in, the fees paid (from the journal) and
   * the closing balance (from the balances), so opening + fills − fees = closing can be checked.
   */
  async statement(db: Pool, accountId: string): Promise<StatementLine[]> {
    const { rows } = await db.query<StatementLine>(
      `WITH journal AS (
         SELECT p.asset,
                -coalesce(sum(p.amount) FILTER (WHERE p.ledger_account = $2), 0) AS opening,
                -coalesce(sum(p.amount) FILTER (WHERE p.ledger_account = $3), 0) AS fills,
                coalesce(sum(p.amount) FILTER (WHERE p.ledger_account = $4), 0) AS fees
         FROM journal_entries e JOIN postings p ON p.entry_id = e.id
         WHERE e.account_id = $1 GROUP BY p.asset)
       SELECT asset, coalesce(j.opening, 0)::bigint AS opening, coalesce(j.fills, 0)::bigint AS fills,
              coalesce(j.fees, 0)::bigint AS fees, coalesce(b.available + b.reserved, 0)::bigint AS closing
       FROM journal j FULL JOIN (SELECT * FROM balances WHERE account_id = $1) b USING (asset)
       ORDER BY asset <> $5, asset`,
      [accountId, EQUITY, EXCHANGE, FEES, CASH],
    );
    return rows;
  },
};
