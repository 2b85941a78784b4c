import type { Pool, Tx } from '@simplebank/chassis';
import { hashPassword, verifyPassword } from './passwords.ts';

/**
 * A hash of a password nobody has, checked when the username is unknown, so that an unknown
 * username costs as much time as a wrong password and the two cannot be told apart.
 */
let decoy: Promise<string> | undefined;

/** The customers store: who may sign in, with a slow salted hash of their password. */
export const customers = {
  /** Creates a customer; false when the username is taken (nothing changes then). */
  async create(db: Pool | Tx, username: string, password: string): Promise<boolean> {
    const hash = await hashPassword(password);
    const { rowCount } = await db.query(
      'INSERT INTO customers (username, password_hash) VALUES ($1, $2) ON CONFLICT (username) DO NOTHING',
      [username, hash],
    );
    return rowCount === 1;
  },

  /**
   * The customer's token version when `password` is theirs; undefined otherwise, and for an
   * unknown username after the same work.
   */
  async authenticate(db: Pool | Tx, username: string, password: string): Promise<number | undefined> {
    const { rows } = await db.query<{ password_hash: string; token_version: number }>(
      'SELECT password_hash, token_version FROM customers WHERE username = $1',
      [username],
    );
    const stored = rows[0];
    if (stored === undefined) {
      decoy ??= hashPassword('decoy password that matches nothing');
      await verifyPassword(password, await decoy);
      return undefined;
    }
    return (await verifyPassword(password, stored.password_hash)) ? stored.token_version : undefined;
  },

  /** The customer's token version; undefined for an unknown username. */
  async tokenVersion(db: Pool, username: string): Promise<number | undefined> {
    const { rows } = await db.query<{ token_version: number }>(
      'SELECT token_version FROM customers WHERE username = $1',
      [username],
    );
    return rows[0]?.token_version;
  },

  /** Ends every token of the customer: the new version, or undefined for an unknown username. */
  async revokeTokens(db: Pool | Tx, username: string): Promise<number | undefined> {
    const { rows } = await db.query<{ token_version: number }>(
      'UPDATE customers SET token_version = token_version + 1 WHERE username = $1 RETURNING token_version',
      [username],
    );
    return rows[0]?.token_version;
  },

  /**
   * A new password, when `oldPassword` is the current one; every token issued before ends. The
   * new version, or undefined for a wrong password or an unknown username.
   */
  async changePassword(
    db: Pool,
    username: string,
    oldPassword: string,
    newPassword: string,
  ): Promise<number | undefined> {
    const checked = await customers.authenticate(db, username, oldPassword);
    if (checked === undefined) return undefined;
    const hash = await hashPassword(newPassword);
    // only over the version checked: of two changes at once with the same old password, one wins
    const { rows } = await db.query<{ token_version: number }>(
      `UPDATE customers SET password_hash = $2, token_version = token_version + 1
       WHERE username = $1 AND token_version = $3 RETURNING token_version`,
      [username, hash, checked],
    );
    return rows[0]?.token_version;
  },
};
