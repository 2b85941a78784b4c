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

  /** Whether `password` is this customer's; an unknown username is false after the same work. */
  async authenticate(db: Pool, username: string, password: string): Promise<boolean> {
    const { rows } = await db.query<{ password_hash: string }>(
      'SELECT password_hash FROM customers WHERE username = $1',
      [username],
    );
    const stored = rows[0]?.password_hash;
    if (stored === undefined) {
      decoy ??= hashPassword('decoy password that matches nothing');
      await verifyPassword(password, await decoy);
      return false;
    }
    return verifyPassword(password, stored);
  },
};
