import type { Tx } from '@simplebank/chassis';
import { CASH, release } from './domain/ledger.ts';
import { journal } from './journal.ts';
import { holdOf, reservations } from './reservations.ts';

/**
 * C2: gives the whole hold back once; a release that arrives before its reservation leaves a
 * tombstone, so the late reservation is declined. True when it released a hold.
 */
export async function releaseHold(
  tx: Tx,
  orderId: string,
  accountId: string,
  reason: string,
): Promise<boolean> {
  await reservations.lockOrder(tx, orderId);
  const reservation = await reservations.find(tx, orderId);
  if (!reservation) {
    await reservations.tombstone(tx, orderId, accountId, reason);
    return false;
  }
  if (reservation.status !== 'held') return false; // released, settled, declined or void already
  const hold = holdOf(reservation);
  await journal.lockBalances(tx, hold.accountId, [CASH, hold.symbol]);
  await journal.post(tx, { accountId: hold.accountId, orderId, kind: 'release' }, release(hold));
  await reservations.close(tx, orderId, 'released', reason);
  return true;
}
