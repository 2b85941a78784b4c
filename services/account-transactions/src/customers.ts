import { HttpError, type Pool, type Slots, SlotsFull, type Tx } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import { hashPassword, verifyPassword } from './passwords.ts';

/**
 * The customers store: who may sign in, with a slow salted hash of their password, and the version
 * of their tokens (raised to end them all). Every hash runs in `hashing`'s slots: each holds 32 MiB
 * outside the heap while it runs, so a burst of sign-ins must not run them all at once (node would
 * run four, libuv's pool, and queue the rest without bound). Past the slots' queue a request is
 * refused at once: 503 service_unavailable.
 */
export class Customers {
  /**
   * A hash of a password nobody has, checked when the username is unknown, so that an unknown
   * username costs as much time as a wrong password and the two cannot be told apart.
   */
  private decoy: Promise<string> | undefined;

  constructor(private readonly hashing: Slots) {}

  /** Creates a customer; false when the username is taken (nothing changes then). */
  async create(db: Pool | Tx, username: string, password: string): Promise<boolean> {
    const hash = await this.hash(() => hashPassword(password));
    const { rowCount } = await db.query(
      'INSERT INTO customers (username, password_hash) VALUES ($1, $2) ON CONFLICT (username) DO NOTHING',
      [username, hash],
    );
    return rowCount === 1;
  }

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
      this.decoy ??= hashPassword('decoy password that matches nothing');
      const decoy = await this.decoy;
      await this.hash(() => verifyPassword(password, decoy));
      return undefined;
    }
    return (await this.hash(() => verifyPassword(password, stored.password_hash)))
      ? stored.token_version
      : undefined;
  }

  /** The customer's token version; undefined for an unknown username. */
  async tokenVersion(db: Pool, username: string): Promise<number | undefined> {
    const { rows } = await db.query<{ token_version: number }>(
      'SELECT token_version FROM customers WHERE username = $1',
      [username],
    );
    return rows[0]?.token_version;
  }

  /** Ends every token of the customer: the new version, or undefined for an unknown username. */
  async revokeTokens(db: Pool | Tx, username: string): Promise<number | undefined> {
    const { rows } = await db.query<{ token_version: number }>(
      'UPDATE customers SET token_version = token_version + 1 WHERE username = $1 RETURNING token_version',
      [username],
    );
    return rows[0]?.token_version;
  }

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
    const checked = await this.authenticate(db, username, oldPassword);
    if (checked === undefined) return undefined;
    const hash = await this.hash(() => hashPassword(newPassword));
    // only over the version checked: of two changes at once with the same old password, one wins
    const { rows } = await db.query<{ token_version: number }>(
      `UPDATE customers SET password_hash = $2, token_version = token_version + 1
       WHERE username = $1 AND token_version = $3 RETURNING token_version`,
      [username, hash, checked],
    );
    return rows[0]?.token_version;
  }

  private async hash<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await this.hashing.run(work);
    } catch (error) {
      if (error instanceof SlotsFull)
        throw new HttpError(
          503,
          ErrorCode.serviceUnavailable,
          'too many passwords being checked; retry later',
        );
      throw error;
    }
  }
}
