import type { Pool, Tx } from '@simplebank/chassis';
import { type Bucket, CASH, opening } from './domain/ledger.ts';
import { journal } from './journal.ts';

export interface AccountBalances {
  account_id: string;
  owner: string;
  /** Per asset; CASH is always there. */
  balances: Map<string, Bucket>;
}

/** The accounts store: who owns which account, and opening new ones. */
export const accounts = {
  async exists(tx: Tx, accountId: string): Promise<boolean> {
    const { rowCount } = await tx.query('SELECT 1 FROM accounts WHERE account_id = $1', [accountId]);
    return rowCount === 1;
  },

  /** Opens a funded account (opening balances against equity); false when it exists already. */
  async open(
    tx: Tx,
    account: { accountId: string; owner: string; holdings: ReadonlyMap<string, number> },
  ): Promise<boolean> {
    const { accountId, owner } = account;
    const created = await tx.query(
      'INSERT INTO accounts (account_id, owner) VALUES ($1, $2) ON CONFLICT (account_id) DO NOTHING',
      [accountId, owner],
    );
    if (created.rowCount === 0) return false;
    // Every account has a CASH row, even at zero: every order locks it, so it serializes them.
    await tx.query('INSERT INTO balances (account_id, asset) VALUES ($1, $2)', [accountId, CASH]);
    await journal.post(tx, { accountId, kind: 'opening' }, opening(accountId, account.holdings));
    return true;
  },

  async find(db: Pool, accountId: string): Promise<AccountBalances | undefined> {
    return (await balancesOf(db, 'account_id', accountId))[0];
  },

  async ofOwner(db: Pool, owner: string): Promise<AccountBalances[]> {
    return balancesOf(db, 'owner', owner);
  },
};

/** Accounts with their balances, by id or by owner (`by` is one of two column names, never input). */
async function balancesOf(db: Pool, by: 'account_id' | 'owner', value: string): Promise<AccountBalances[]> {
  const { rows } = await db.query<{ account_id: string; owner: string; asset: string } & Bucket>(
    `SELECT a.account_id, a.owner, b.asset, b.available, b.reserved
     FROM accounts a JOIN balances b USING (account_id)
     WHERE a.${by} = $1
     ORDER BY a.account_id, b.asset <> $2, b.asset`,
    [value, CASH],
  );
  const found = new Map<string, AccountBalances>();
  for (const { account_id, owner, asset, available, reserved } of rows) {
    const account = found.get(account_id) ?? { account_id, owner, balances: new Map() };
    account.balances.set(asset, { available, reserved });
    found.set(account_id, account);
  }
  return [...found.values()];
}
