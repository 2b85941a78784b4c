/**
 * The double-entry ledger's rules: which postings each step of the saga makes. Pure, no I/O.
 *
 * Assets are `CASH` (in cents) or a symbol (in shares). Ledger accounts are a customer's
 * `<account>:available` and `<account>:reserved` buckets plus the system accounts below. Every
 * entry's postings sum to zero per asset, so nothing is created or lost, only moved.
 */

import { FailureReason, type OrderCreated, type OrderSide, type PayloadOf } from '@simplebank/contracts';

export const CASH = 'CASH';
export const EXCHANGE = 'exchange'; // the counterparty of every trade
export const FEES = 'fees'; // fee income
export const EQUITY = 'equity'; // where opening balances come from

export const available = (accountId: string): string => `${accountId}:available`;
export const reserved = (accountId: string): string => `${accountId}:reserved`;

export interface Posting {
  ledgerAccount: string;
  asset: string;
  /** Signed: cents for CASH, shares for a symbol. */
  amount: number;
}

export interface Bucket {
  available: number;
  reserved: number;
}

/** A customer account's buckets per asset; an asset that is missing holds nothing. */
export type Buckets = ReadonlyMap<string, Bucket>;

/** What T2 holds an order to: the terms OrderCreated carries. */
export type OrderTerms = Omit<PayloadOf<typeof OrderCreated>, 'orderId'>;

/** What T2 holds for an order: shares for a sell, cash for the worst fill and the fee allowance. */
export interface Hold {
  accountId: string;
  side: OrderSide;
  symbol: string;
  shares: number;
  cashCents: number;
}

export interface Fill {
  side: OrderSide;
  symbol: string;
  quantity: number;
  fillPriceCents: number;
  feeCents: number;
}

export type ReservationRefused =
  | typeof FailureReason.unknownAccount
  | typeof FailureReason.insufficientShares
  | typeof FailureReason.insufficientCash;
export type ReserveOutcome =
  | { ok: true; hold: Hold; postings: Posting[] }
  | { ok: false; reason: ReservationRefused };
export type SettleOutcome = { ok: true; postings: Posting[] } | { ok: false; reason: string };

/** Postings with amount 0 say nothing; leaving them out keeps the journal readable. */
const entry = (...postings: Posting[]): Posting[] => postings.filter((p) => p.amount !== 0);

/** A product of safe integers, or undefined when it would not be exact in a double. */
const exactProduct = (a: number, b: number): number | undefined => {
  const product = BigInt(a) * BigInt(b);
  return product <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(product) : undefined;
};

/** The hold for an order, or undefined when its cash would exceed any balance we can hold. */
export function holdFor(order: OrderTerms): Hold | undefined {
  const { accountId, side, symbol, quantity, maxFeeCents } = order;
  if (side === 'sell') return { accountId, side, symbol, shares: quantity, cashCents: maxFeeCents };
  const worstCost = exactProduct(quantity, order.limitPriceCents);
  if (worstCost === undefined || !Number.isSafeInteger(worstCost + maxFeeCents)) return undefined;
  return { accountId, side, symbol, shares: 0, cashCents: worstCost + maxFeeCents };
}

const availableOf = (buckets: Buckets, asset: string): number => buckets.get(asset)?.available ?? 0;

/** T2: move the hold from available to reserved, when the account has it (`null`: no such account). */
export function reserve(order: OrderTerms, buckets: Buckets | null): ReserveOutcome {
  if (!buckets) return { ok: false, reason: FailureReason.unknownAccount };
  const hold = holdFor(order);
  if (!hold) return { ok: false, reason: FailureReason.insufficientCash };
  if (hold.shares > availableOf(buckets, hold.symbol))
    return { ok: false, reason: FailureReason.insufficientShares };
  if (hold.cashCents > availableOf(buckets, CASH))
    return { ok: false, reason: FailureReason.insufficientCash };
  const { accountId, symbol, shares, cashCents } = hold;
  return {
    ok: true,
    hold,
    postings: entry(
      { ledgerAccount: available(accountId), asset: symbol, amount: -shares },
      { ledgerAccount: reserved(accountId), asset: symbol, amount: shares },
      { ledgerAccount: available(accountId), asset: CASH, amount: -cashCents },
      { ledgerAccount: reserved(accountId), asset: CASH, amount: cashCents },
    ),
  };
}

/** C2: give the whole hold back. */
export function release(hold: Hold): Posting[] {
  const { accountId, symbol, shares, cashCents } = hold;
  return entry(
    { ledgerAccount: reserved(accountId), asset: symbol, amount: -shares },
    { ledgerAccount: available(accountId), asset: symbol, amount: shares },
    { ledgerAccount: reserved(accountId), asset: CASH, amount: -cashCents },
    { ledgerAccount: available(accountId), asset: CASH, amount: cashCents },
  );
}

/**
 * Settlement of a fill against its hold. The hold is used up: what the trade and the fee did not
 * take goes back to available. A fill the hold does not cover is refused rather than letting a
 * balance go negative (the limit and the quoted fee make that a broken promise upstream).
 */
export function settle(hold: Hold, fill: Fill): SettleOutcome {
  if (fill.side !== hold.side || fill.symbol !== hold.symbol)
    return { ok: false, reason: 'fill_does_not_match_hold' };
  const value = exactProduct(fill.quantity, fill.fillPriceCents);
  if (value === undefined) return { ok: false, reason: 'fill_value_out_of_range' };
  const { accountId, symbol } = hold;
  const acc = { available: available(accountId), reserved: reserved(accountId) };

  if (hold.side === 'sell') {
    if (fill.quantity > hold.shares) return { ok: false, reason: 'fill_above_held_shares' };
    if (fill.feeCents > hold.cashCents) return { ok: false, reason: 'fee_above_held_allowance' };
    return {
      ok: true,
      postings: entry(
        // the shares leave for the exchange; any not sold go back
        { ledgerAccount: acc.reserved, asset: symbol, amount: -hold.shares },
        { ledgerAccount: EXCHANGE, asset: symbol, amount: fill.quantity },
        { ledgerAccount: acc.available, asset: symbol, amount: hold.shares - fill.quantity },
        // the proceeds arrive
        { ledgerAccount: EXCHANGE, asset: CASH, amount: -value },
        { ledgerAccount: acc.available, asset: CASH, amount: value },
        // the fee is paid from its allowance; the rest of the allowance goes back
        { ledgerAccount: acc.reserved, asset: CASH, amount: -hold.cashCents },
        { ledgerAccount: FEES, asset: CASH, amount: fill.feeCents },
        { ledgerAccount: acc.available, asset: CASH, amount: hold.cashCents - fill.feeCents },
      ),
    };
  }

  if (value + fill.feeCents > hold.cashCents) return { ok: false, reason: 'cost_above_held_cash' };
  return {
    ok: true,
    postings: entry(
      // the cost and the fee are paid from the hold; the rest goes back
      { ledgerAccount: acc.reserved, asset: CASH, amount: -hold.cashCents },
      { ledgerAccount: EXCHANGE, asset: CASH, amount: value },
      { ledgerAccount: FEES, asset: CASH, amount: fill.feeCents },
      { ledgerAccount: acc.available, asset: CASH, amount: hold.cashCents - value - fill.feeCents },
      // the shares arrive
      { ledgerAccount: EXCHANGE, asset: symbol, amount: -fill.quantity },
      { ledgerAccount: acc.available, asset: symbol, amount: fill.quantity },
    ),
  };
}

/** A new account's opening balances, funded by equity. */
export function opening(accountId: string, holdings: ReadonlyMap<string, number>): Posting[] {
  return entry(
    ...[...holdings].flatMap(([asset, amount]) => [
      { ledgerAccount: EQUITY, asset, amount: -amount },
      { ledgerAccount: available(accountId), asset, amount },
    ]),
  );
}

/** The sum of the postings per asset; a balanced entry has only zeros. */
export function totalsByAsset(postings: readonly Posting[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const { asset, amount } of postings) totals.set(asset, (totals.get(asset) ?? 0) + amount);
  return totals;
}

export const isBalanced = (postings: readonly Posting[]): boolean =>
  [...totalsByAsset(postings).values()].every((total) => total === 0);

export interface BucketChange {
  accountId: string;
  asset: string;
  available: number;
  reserved: number;
}

/**
 * How the postings change customer buckets, one change per (account, asset), sorted by account,
 * then asset. The rows they change are locked first, in that order (`journal.lockBalances`), so
 * concurrent writers never wait on each other in opposite orders.
 */
export function bucketChanges(postings: readonly Posting[]): BucketChange[] {
  const changes = new Map<string, BucketChange>();
  for (const { ledgerAccount, asset, amount } of postings) {
    const [accountId, bucket] = ledgerAccount.split(':');
    if (!accountId || (bucket !== 'available' && bucket !== 'reserved')) continue; // a system account
    const key = `${accountId}\u0000${asset}`;
    const change = changes.get(key) ?? { accountId, asset, available: 0, reserved: 0 };
    change[bucket] += amount;
    changes.set(key, change);
  }
  return [...changes.values()].sort(byLockOrder);
}

export const byLockOrder = (
  a: { accountId: string; asset: string },
  b: { accountId: string; asset: string },
) =>
  a.accountId < b.accountId
    ? -1
    : a.accountId > b.accountId
      ? 1
      : a.asset < b.asset
        ? -1
        : a.asset > b.asset
          ? 1
          : 0;
