import { describe, expect, it } from 'vitest';
import {
  type Bucket,
  bucketChanges,
  CASH,
  EQUITY,
  EXCHANGE,
  FEES,
  type Hold,
  isBalanced,
  type OrderTerms,
  opening,
  type Posting,
  release,
  reserve,
  settle,
  totalsByAsset,
} from '../src/domain/ledger.ts';

const sell: OrderTerms = {
  accountId: 'acc-1',
  side: 'sell',
  symbol: 'ACME',
  quantity: 10,
  limitPriceCents: 9_500,
  maxFeeCents: 595,
};
const buy: OrderTerms = { ...sell, side: 'buy', limitPriceCents: 10_500 };

const buckets = (entries: Record<string, Partial<Bucket>>) =>
  new Map(Object.entries(entries).map(([asset, b]) => [asset, { available: 0, reserved: 0, ...b }]));

/** Applies postings to one account's buckets, as the store does. */
function apply(before: Map<string, Bucket>, postings: Posting[]): Map<string, Bucket> {
  const after = new Map([...before].map(([asset, b]) => [asset, { ...b }]));
  for (const change of bucketChanges(postings)) {
    const bucket = after.get(change.asset) ?? { available: 0, reserved: 0 };
    after.set(change.asset, {
      available: bucket.available + change.available,
      reserved: bucket.reserved + change.reserved,
    });
  }
  return after;
}

const held = (order: OrderTerms, from: Map<string, Bucket>) => {
  const outcome = reserve(order, from);
  if (!outcome.ok) throw new Error(outcome.reason);
  return outcome;
};

describe('ledger: reserve (T2)', () => {
  const rich = buckets({ CASH: { available: 1_000_000 }, ACME: { available: 100 } });

  it('holds a sell’s shares and its fee allowance', () => {
    const { hold, postings } = held(sell, rich);
    expect(hold).toEqual({ accountId: 'acc-1', side: 'sell', symbol: 'ACME', shares: 10, cashCents: 595 });
    expect(isBalanced(postings)).toBe(true);
    expect(apply(rich, postings)).toEqual(
      buckets({ CASH: { available: 999_405, reserved: 595 }, ACME: { available: 90, reserved: 10 } }),
    );
  });

  it('holds a buy’s worst cost plus the fee allowance in cash', () => {
    const { hold, postings } = held(buy, rich);
    expect(hold).toMatchObject({ shares: 0, cashCents: 10 * 10_500 + 595 });
    expect(isBalanced(postings)).toBe(true);
    expect(apply(rich, postings).get(CASH)).toEqual({ available: 1_000_000 - 105_595, reserved: 105_595 });
  });

  it('refuses a sell of more shares than are available', () => {
    expect(reserve(sell, buckets({ CASH: { available: 10_000 }, ACME: { available: 10 } })).ok).toBe(true);
    expect(
      reserve(sell, buckets({ CASH: { available: 10_000 }, ACME: { available: 9, reserved: 50 } })),
    ).toEqual({
      ok: false,
      reason: 'insufficient_shares',
    });
    expect(reserve(sell, buckets({ CASH: { available: 10_000 } }))).toEqual({
      ok: false,
      reason: 'insufficient_shares',
    });
  });

  it('refuses an order for an account that does not exist', () => {
    expect(reserve(sell, null)).toEqual({ ok: false, reason: 'unknown_account' });
    expect(reserve(buy, null)).toEqual({ ok: false, reason: 'unknown_account' });
  });

  it('refuses a sell without the cash for its fee, and a buy without the cash for its cost', () => {
    expect(reserve(sell, buckets({ CASH: { available: 594 }, ACME: { available: 10 } }))).toEqual({
      ok: false,
      reason: 'insufficient_cash',
    });
    expect(reserve(buy, buckets({ CASH: { available: 105_595 } })).ok).toBe(true);
    expect(reserve(buy, buckets({ CASH: { available: 105_594 } }))).toEqual({
      ok: false,
      reason: 'insufficient_cash',
    });
  });

  it('refuses a buy whose cost would not be an exact number of cents', () => {
    const huge = { ...buy, quantity: 1_000_000, limitPriceCents: Number.MAX_SAFE_INTEGER };
    expect(reserve(huge, buckets({ CASH: { available: Number.MAX_SAFE_INTEGER } }))).toEqual({
      ok: false,
      reason: 'insufficient_cash',
    });
  });
});

describe('ledger: release (C2)', () => {
  it('gives back exactly what was held', () => {
    const start = buckets({ CASH: { available: 5_000 }, ACME: { available: 30 } });
    const { hold, postings } = held(sell, start);
    const postingsBack = release(hold);
    expect(isBalanced(postingsBack)).toBe(true);
    expect(apply(apply(start, postings), postingsBack)).toEqual(start);
  });

  it('posts nothing for an empty hold', () => {
    const nothing: Hold = { accountId: 'acc-1', side: 'sell', symbol: 'ACME', shares: 0, cashCents: 0 };
    expect(release(nothing)).toEqual([]);
  });
});

describe('ledger: settle (TradeExecuted)', () => {
  const start = buckets({ CASH: { available: 200_000 }, ACME: { available: 100 } });

  it('settles a sell: shares to the exchange, proceeds in, fee from its allowance, the rest back', () => {
    const { hold, postings: holdPostings } = held(sell, start);
    const fill = {
      side: 'sell',
      symbol: 'ACME',
      quantity: 10,
      fillPriceCents: 10_012,
      feeCents: 338,
    } as const;
    const outcome = settle(hold, fill);
    if (!outcome.ok) throw new Error(outcome.reason);
    expect(outcome.postings).toEqual([
      { ledgerAccount: 'acc-1:reserved', asset: 'ACME', amount: -10 },
      { ledgerAccount: EXCHANGE, asset: 'ACME', amount: 10 },
      { ledgerAccount: EXCHANGE, asset: CASH, amount: -100_120 },
      { ledgerAccount: 'acc-1:available', asset: CASH, amount: 100_120 },
      { ledgerAccount: 'acc-1:reserved', asset: CASH, amount: -595 },
      { ledgerAccount: FEES, asset: CASH, amount: 338 },
      { ledgerAccount: 'acc-1:available', asset: CASH, amount: 595 - 338 },
    ]);
    expect(totalsByAsset(outcome.postings)).toEqual(
      new Map([
        ['ACME', 0],
        [CASH, 0],
      ]),
    );
    expect(apply(apply(start, holdPostings), outcome.postings)).toEqual(
      buckets({ CASH: { available: 200_000 + 100_120 - 338 }, ACME: { available: 90 } }),
    );
  });

  it('settles a buy: cost and fee from the hold, the rest back, shares in', () => {
    const { hold, postings: holdPostings } = held(buy, start);
    const fill = {
      side: 'buy',
      symbol: 'ACME',
      quantity: 10,
      fillPriceCents: 10_012,
      feeCents: 350,
    } as const;
    const outcome = settle(hold, fill);
    if (!outcome.ok) throw new Error(outcome.reason);
    expect(outcome.postings).toEqual([
      { ledgerAccount: 'acc-1:reserved', asset: CASH, amount: -105_595 },
      { ledgerAccount: EXCHANGE, asset: CASH, amount: 100_120 },
      { ledgerAccount: FEES, asset: CASH, amount: 350 },
      { ledgerAccount: 'acc-1:available', asset: CASH, amount: 105_595 - 100_120 - 350 },
      { ledgerAccount: EXCHANGE, asset: 'ACME', amount: -10 },
      { ledgerAccount: 'acc-1:available', asset: 'ACME', amount: 10 },
    ]);
    expect(isBalanced(outcome.postings)).toBe(true);
    expect(apply(apply(start, holdPostings), outcome.postings)).toEqual(
      buckets({ CASH: { available: 200_000 - 100_120 - 350 }, ACME: { available: 110 } }),
    );
  });

  it('spends the whole hold when the buy fills at its limit with the quoted fee', () => {
    const { hold } = held(buy, start);
    const outcome = settle(hold, {
      side: 'buy',
      symbol: 'ACME',
      quantity: 10,
      fillPriceCents: 10_500,
      feeCents: 595,
    });
    expect(
      outcome.ok && outcome.postings.some((p) => p.ledgerAccount === 'acc-1:available' && p.asset === CASH),
    ).toBe(false);
  });

  it('returns the shares a smaller fill did not sell', () => {
    const { hold } = held(sell, start);
    const outcome = settle(hold, {
      side: 'sell',
      symbol: 'ACME',
      quantity: 4,
      fillPriceCents: 10_000,
      feeCents: 300,
    });
    expect(outcome.ok && outcome.postings).toContainEqual({
      ledgerAccount: 'acc-1:available',
      asset: 'ACME',
      amount: 6,
    });
  });

  it('refuses a fill the hold does not cover', () => {
    const { hold: sellHold } = held(sell, start);
    const { hold: buyHold } = held(buy, start);
    const fill = {
      side: 'sell',
      symbol: 'ACME',
      quantity: 10,
      fillPriceCents: 10_000,
      feeCents: 595,
    } as const;
    expect(settle(sellHold, { ...fill, feeCents: 596 })).toEqual({
      ok: false,
      reason: 'fee_above_held_allowance',
    });
    expect(settle(sellHold, { ...fill, quantity: 11 })).toEqual({
      ok: false,
      reason: 'fill_above_held_shares',
    });
    expect(settle(sellHold, { ...fill, symbol: 'GLOBEX' })).toEqual({
      ok: false,
      reason: 'fill_does_not_match_hold',
    });
    expect(settle(buyHold, { ...fill, side: 'buy', fillPriceCents: 10_501 })).toEqual({
      ok: false,
      reason: 'cost_above_held_cash',
    });
  });
});

describe('ledger: invariants', () => {
  it('opens an account against equity', () => {
    const postings = opening(
      'acc-1',
      new Map([
        [CASH, 1_000_000],
        ['ACME', 100],
        ['HOOLI', 0],
      ]),
    );
    expect(postings).toEqual([
      { ledgerAccount: EQUITY, asset: CASH, amount: -1_000_000 },
      { ledgerAccount: 'acc-1:available', asset: CASH, amount: 1_000_000 },
      { ledgerAccount: EQUITY, asset: 'ACME', amount: -100 },
      { ledgerAccount: 'acc-1:available', asset: 'ACME', amount: 100 },
    ]);
  });

  it('turns postings into bucket changes in lock order, leaving out system accounts', () => {
    const { hold } = held(buy, buckets({ CASH: { available: 200_000 } }));
    const outcome = settle(hold, {
      side: 'buy',
      symbol: 'ACME',
      quantity: 10,
      fillPriceCents: 10_000,
      feeCents: 500,
    });
    expect(outcome.ok && bucketChanges(outcome.postings)).toEqual([
      { accountId: 'acc-1', asset: 'ACME', available: 10, reserved: 0 },
      { accountId: 'acc-1', asset: CASH, available: 105_595 - 100_000 - 500, reserved: -105_595 },
    ]);
  });

  it('balances every asset and keeps every bucket non-negative, whatever the order and fill', () => {
    let seed = 42;
    const random = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % below;
    };
    for (let i = 0; i < 500; i++) {
      const order: OrderTerms = {
        accountId: 'acc-1',
        side: random(2) === 0 ? 'sell' : 'buy',
        symbol: 'ACME',
        quantity: 1 + random(50),
        limitPriceCents: 1 + random(20_000),
        maxFeeCents: random(1_000),
      };
      const start = buckets({ CASH: { available: random(2_000_000) }, ACME: { available: random(60) } });
      const outcome = reserve(order, start);
      if (!outcome.ok) continue;
      const fillPriceCents =
        order.side === 'buy' ? random(order.limitPriceCents + 1) : order.limitPriceCents + random(1_000);
      const fill = { ...order, fillPriceCents, feeCents: random(order.maxFeeCents + 1) };
      const settled = settle(outcome.hold, fill);
      if (!settled.ok) throw new Error(settled.reason);
      for (const postings of [outcome.postings, settled.postings, release(outcome.hold)]) {
        expect(isBalanced(postings)).toBe(true);
      }
      const after = apply(apply(start, outcome.postings), settled.postings);
      for (const bucket of after.values()) {
        expect(bucket.available).toBeGreaterThanOrEqual(0);
        expect(bucket.reserved).toBe(0);
      }
    }
  });
});
