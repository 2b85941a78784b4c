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
} from './domain/ledger.ts';

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

  /**
   * Records one entry and applies it to the balances, in the caller's transaction: the entry, its
   * postings and the balance changes in one statement (one round trip, where it took four).
   */
  async post(tx: Tx, entry: { accountId: string; orderId?: string; kind: EntryKind }, postings: Posting[]) {
    if (!isBalanced(postings)) throw new Error(`${entry.kind} entry for ${entry.accountId} does not balance`);
    if (postings.length === 0) return;
    const changes = bucketChanges(postings);
    const { rows } = await tx.query<{ account_id: string; asset: string }>(
      `WITH entry AS (
         INSERT INTO journal_entries (account_id, order_id, kind) VALUES ($1, $2, $3) RETURNING id
       ), posted AS (
         INSERT INTO postings (entry_id, ledger_account, asset, amount)
         SELECT entry.id, p.* FROM entry, unnest($4::text[], $5::text[], $6::bigint[]) AS p
       )
       UPDATE balances b SET available = b.available + c.available, reserved = b.reserved + c.reserved
         FROM unnest($7::text[], $8::text[], $9::bigint[], $10::bigint[]) AS c(account_id, asset, available, reserved)
        WHERE b.account_id = c.account_id AND b.asset = c.asset
       RETURNING b.account_id, b.asset`,
      [
        entry.accountId,
        entry.orderId ?? null,
        entry.kind,
        postings.map((p) => p.ledgerAccount),
        postings.map((p) => p.asset),
        postings.map((p) => p.amount),
        changes.map((c) => c.accountId),
        changes.map((c) => c.asset),
        changes.map((c) => c.available),
        changes.map((c) => c.reserved),
      ],
    );
    // A position the account did not have yet (a buy's shares, an opening balance).
    const updated = new Set(rows.map((r) => `${r.account_id}\u0000${r.asset}`));
    const missing = changes.filter((c) => !updated.has(`${c.accountId}\u0000${c.asset}`));
    if (missing.length > 0) {
      await tx.query(
        `INSERT INTO balances (account_id, asset, available, reserved)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])`,
        [
          missing.map((c) => c.accountId),
          missing.map((c) => c.asset),
          missing.map((c) => c.available),
          missing.map((c) => c.reserved),
        ],
      );
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
