import { HttpError, type Pool, type Slots, SlotsFull, type Tx } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import { hashPassword, verifyPassword } from './passwords.ts';

/**
 * The customers store: who may sign in, with a slow salted hash of their password. Every hash runs
 * in `hashing`'s slots: each holds 32 MiB outside the heap while it runs, so a burst of sign-ins
 * must not run them all at once (node would run four, libuv's pool, and queue the rest without
 * bound). Past the slots' queue a request is refused at once: 503 service_unavailable.
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

  /** Whether `password` is this customer's; an unknown username is false after the same work. */
  async authenticate(db: Pool, username: string, password: string): Promise<boolean> {
    const { rows } = await db.query<{ password_hash: string }>(
      'SELECT password_hash FROM customers WHERE username = $1',
      [username],
    );
    const stored = rows[0]?.password_hash;
    if (stored === undefined) {
      this.decoy ??= hashPassword('decoy password that matches nothing');
      const decoy = await this.decoy;
      await this.hash(() => verifyPassword(password, decoy));
      return false;
    }
    return this.hash(() => verifyPassword(password, stored));
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
