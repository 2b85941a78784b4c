import { ConfigError, type Pool, transaction } from '@simplebank/chassis';
import { accounts } from './accounts.ts';
import { CASH } from './domain/ledger.ts';

/**
 * The demo customers, whose passwords the README publishes (`alice-password`, …): stored as the
 * scrypt hashes the old migration 004 wrote, so that databases seeded before and after agree, and
 * a production start can recognise them by hash (`refuseDemoCustomers`).
 */
export const DEMO_CUSTOMERS = [
  {
    username: 'alice',
    passwordHash: 'scrypt$15$8$1$iB8DqnEE1hkSLp7kfQE7pg==$K+wyCDY+B4wACQzDFO7NViGcqioz1jyXKJGUaK1i760=',
    accountId: 'acc-alice',
    holdings: [
      [CASH, 1_000_000],
      ['ACME', 100],
      ['GLOBEX', 50],
    ],
  },
  {
    username: 'bob',
    passwordHash: 'scrypt$15$8$1$ndqdwfp23MtEajyWFHsx9w==$LT62z2CNaIVNOHQ1TYK28CU/x34+94VDlv4E/8hZgg4=',
    accountId: 'acc-bob',
    holdings: [
      [CASH, 5_000_000],
      ['INITECH', 200],
      ['ACME', 20],
    ],
  },
  {
    username: 'carol',
    passwordHash: 'scrypt$15$8$1$/cgXyWRcNZCCObfmyd7xDA==$Fsq6BgODOFzdRf6+LHuCZj01lQ3eDYo8U3I5SFr+uWU=',
    accountId: 'acc-carol',
    holdings: [[CASH, 100_000]],
  },
] as const;

/** Writes the demo customers and their funded accounts; what exists already is left as it is. */
export async function writeDemoData(pool: Pool): Promise<string[]> {
  return transaction(pool, async (tx) => {
    const written: string[] = [];
    for (const demo of DEMO_CUSTOMERS) {
      const { rowCount } = await tx.query(
        'INSERT INTO customers (username, password_hash) VALUES ($1, $2) ON CONFLICT (username) DO NOTHING',
        [demo.username, demo.passwordHash],
      );
      const holdings = new Map<string, number>(demo.holdings);
      const opened = await accounts.open(tx, { accountId: demo.accountId, owner: demo.username, holdings });
      if (rowCount === 1 || opened) written.push(demo.username);
    }
    return written;
  });
}

/**
 * In production: refuses demo data asked for, and refuses to run while any customer still has a
 * published demo password (a database that applied the old migration 003/004, or a demo stack's
 * database reused). Anyone could sign in as them at the public URL.
 */
export async function refuseDemoCustomers(pool: Pool, demoData: boolean): Promise<void> {
  if (demoData)
    throw new ConfigError(
      'Invalid configuration: DEMO_DATA=true is for demo stacks, not NODE_ENV=production',
    );
  const { rows } = await pool.query<{ username: string }>(
    'SELECT username FROM customers WHERE password_hash = ANY($1::text[]) ORDER BY username',
    [DEMO_CUSTOMERS.map((c) => c.passwordHash)],
  );
  if (rows.length === 0) return;
  const names = rows.map((r) => r.username);
  throw new ConfigError(
    `Refusing to start in production: demo customers with published passwords exist (${names.join(', ')}). ` +
      'Change their passwords or delete them, in the account-transactions database: ' +
      `DELETE FROM customers WHERE username IN (${names.map((n) => `'${n}'`).join(', ')})`,
  );
}
