import { randomUUID } from 'node:crypto';
import { waitFor } from '@simplebank/chassis/testing';
import type { Order } from '@simplebank/contracts';
import { describe, expect, it } from 'vitest';
import { seededRandom } from './random.ts';
import {
  accountWithoutHolds,
  call,
  cents,
  feeCharge,
  newAccount,
  order,
  placeOrder,
  position,
  settled,
  url,
} from './system.ts';

const ACCOUNTS = 20;
const ORDERS = 200;
const SYMBOLS = ['ACME', 'GLOBEX'] as const;
const TERMINAL = new Set(['executed', 'failed', 'canceled', 'expired']);

interface Opening {
  cash: number;
  shares: Record<string, number>;
}

/**
 * A client of the burst: retries a 503 (orders at capacity, or busy past the request's budget)
 * with the same Idempotency-Key after its Retry-After second, as the README tells clients to, so a
 * retry never places a second order. A burst bigger than admission control's limit of the moment
 * gets in over a few seconds.
 */
async function placeRetrying(side: 'sell' | 'buy', accountId: string, symbol: string, quantity: number) {
  const key = randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      return await placeOrder(side, accountId, symbol, quantity, { 'idempotency-key': key });
    } catch (error) {
      if (attempt >= 30 || !/answered 503/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000)); // Retry-After: 1, the client's back-off
    }
  }
}

describe('invariants of docs/architecture.md §2 after a mixed batch of concurrent orders', () => {
  it(`${ORDERS} concurrent sells and buys over ${ACCOUNTS} accounts`, async () => {
    const next = seededRandom(42);
    const openings = new Map<string, Opening>();
    for (let i = 0; i < ACCOUNTS; i++) {
      // Every fourth account is nearly empty, so that some orders fail for want of shares or cash.
      const poor = i % 4 === 0;
      const opening = { cash: poor ? 500 : 300_000, shares: { ACME: poor ? 1 : 40, GLOBEX: poor ? 0 : 40 } };
      const id = await newAccount(`${opening.cash / 100}.00`, [
        { symbol: 'ACME', quantity: opening.shares.ACME },
        ...(opening.shares.GLOBEX > 0 ? [{ symbol: 'GLOBEX', quantity: opening.shares.GLOBEX }] : []),
      ]);
      openings.set(id, opening);
    }
    const accountIds = [...openings.keys()];

    const orderIds = await Promise.all(
      Array.from({ length: ORDERS }, (_, i) => {
        const side = next(2) === 0 ? 'sell' : 'buy';
        return placeRetrying(
          side,
          accountIds[i % ACCOUNTS] as string,
          SYMBOLS[next(2)] as string,
          1 + next(8),
        );
      }),
    );
    expect(new Set(orderIds).size).toBe(ORDERS);

    const orders: Order[] = await Promise.all(orderIds.map((id) => settled(id, 120_000)));

    // Every accepted order reaches exactly one terminal state, and stays there.
    for (const o of orders) {
      expect(TERMINAL.has(o.status)).toBe(true);
      expect(o.history.filter((h) => TERMINAL.has(h.status))).toHaveLength(1);
    }
    const reread = await Promise.all(orderIds.map((id) => order(id)));
    expect(reread.map((o) => o.status)).toEqual(orders.map((o) => o.status));
    const byStatus = Object.groupBy(orders, (o) => o.status);
    expect(byStatus.executed?.length ?? 0).toBeGreaterThan(ORDERS / 2);
    expect(byStatus.failed?.length ?? 0).toBeGreaterThan(0);

    // No fee charged twice, none kept for an order that did not trade.
    for (const o of orders) {
      const charge = await feeCharge(o.order_id);
      if (o.status === 'executed') expect(charge).toMatchObject({ status: 'charged', fee: o.fee });
      // C3 runs from the fees service's own queue: wait for it rather than race it.
      else
        await waitFor(`no fee kept for ${o.status} order ${o.order_id}`, async () =>
          ['refunded', 'void', 'declined'].includes((await feeCharge(o.order_id)).status),
        );
    }

    // Conservation: opening + fills − fees = closing, for every account, in cash and in shares.
    for (const [accountId, opening] of openings) {
      const executed = orders.filter((o) => o.account_id === accountId && o.status === 'executed');
      let cash = opening.cash;
      const shares = { ...opening.shares } as Record<string, number>;
      for (const o of executed) {
        const value = o.quantity * cents(o.fill_price);
        const fee = cents(o.fee);
        cash += o.side === 'sell' ? value - fee : -value - fee;
        shares[o.symbol] = (shares[o.symbol] ?? 0) + (o.side === 'sell' ? -o.quantity : o.quantity);
      }
      const closing = await accountWithoutHolds(accountId);
      // Nothing is left on hold once every order has finished.
      expect(closing.cash.reserved).toBe('0.00');
      expect({ accountId, cash: cents(closing.cash.available) }).toEqual({ accountId, cash });
      for (const symbol of SYMBOLS) {
        const p = position(closing, symbol);
        expect(p.reserved).toBe(0);
        expect({ accountId, symbol, shares: p.quantity }).toEqual({
          accountId,
          symbol,
          shares: shares[symbol] ?? 0,
        });
        expect(p.quantity).toBeGreaterThanOrEqual(0);
      }
      expect(cents(closing.cash.available)).toBeGreaterThanOrEqual(0);
    }

    // The ledger's double entry: every asset's postings sum to zero.
    const check = await call<{ balanced: boolean }>(url.accounts, 'GET', '/ledger/balance-check');
    expect(check.body.balanced).toBe(true);
  }, 180_000);
});
