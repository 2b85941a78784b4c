import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freshVhost, waitFor } from '@simplebank/chassis/testing';
import type { Order, OrderList } from '@simplebank/contracts';
import type { Stack } from '@simplebank/stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../test/random.ts';
import {
  accountWithoutHolds,
  call,
  cents,
  feeCharge,
  newAccount,
  position,
  setFaults,
  tokenOf,
  url,
} from '../test/system.ts';
import {
  type FaultLog,
  KILLABLE,
  killAndRestart,
  parkedMessages,
  restartPostgreSQL,
  restartRabbitMQ,
} from './faults.ts';
import { chaosStack, root, VHOST } from './stack.ts';

const ACCOUNTS = 50;
const ORDERS = 500;
const ORDER_EVERY_MS = 110; // ~55 s of orders, while the faults below happen
const SEED = Number(process.env.CHAOS_SEED ?? 7);
const TERMINAL = new Set(['executed', 'failed', 'canceled', 'expired']);
const SYMBOLS = ['ACME', 'GLOBEX'];

let stack: Stack;
const faults: FaultLog[] = [];

beforeAll(async () => {
  mkdirSync(join(root, 'e2e', 'test-results'), { recursive: true });
  const log = createWriteStream(join(root, 'e2e', 'test-results', 'chaos-services.log'));
  stack = chaosStack(await freshVhost(VHOST), (service, line) => log.write(`${service} ${line}\n`));
  await stack.start();
});

afterAll(async () => {
  await stack?.stop();
});

/** A customer's client: retries with the same Idempotency-Key until it gets an answer. */
async function placeUntilAnswered(side: string, accountId: string, symbol: string, quantity: number) {
  const key = randomUUID();
  const deadline = Date.now() + 90_000;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    try {
      const response = await call<{ order_id: string }>(
        url.gateway,
        'POST',
        `/shares/${side}`,
        { account_id: accountId, symbol, quantity },
        { token: tokenOf(accountId), headers: { 'idempotency-key': key } },
      );
      if (response.status === 202) return { accepted: true, orderId: response.body.order_id };
      if (response.status < 500 && response.status !== 409 && response.status !== 429)
        return { accepted: false };
    } catch {
      // the gateway is down or restarting: try again, as a client would
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 200 * 2 ** attempt)));
  }
  return { accepted: false };
}

/** Every order of an account, through the gateway's paged listing. */
async function ordersOf(accountId: string): Promise<Order[]> {
  const orders: Order[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `/orders?account_id=${accountId}&limit=100${cursor ? `&cursor=${cursor}` : ''}`;
    const page: { status: number; body: OrderList } = await call<OrderList>(
      url.gateway,
      'GET',
      query,
      undefined,
      {
        token: tokenOf(accountId),
      },
    );
    if (page.status !== 200) throw new Error(`GET ${query} answered ${page.status}`);
    orders.push(...page.body.orders);
    cursor = page.body.next_cursor;
  } while (cursor);
  return orders;
}

describe('chaos: faults while orders stream in', () => {
  it(`${ORDERS} orders from ${ACCOUNTS} accounts through SIGKILLs, broker and database restarts, and an exchange outage`, async () => {
    const next = seededRandom(SEED);
    const openings = new Map<string, { cash: number; shares: Record<string, number> }>();
    for (let i = 0; i < ACCOUNTS; i++) {
      const shares = { ACME: 30, GLOBEX: 30 };
      const id = await newAccount('3000.00', [
        { symbol: 'ACME', quantity: shares.ACME },
        { symbol: 'GLOBEX', quantity: shares.GLOBEX },
      ]);
      openings.set(id, { cash: 300_000, shares });
    }
    const accountIds = [...openings.keys()];
    const started = Date.now();

    // The stream: a customer's order every ORDER_EVERY_MS, each retried until answered.
    const stream = (async () => {
      const placements: Promise<{ accepted: boolean; orderId?: string }>[] = [];
      for (let i = 0; i < ORDERS; i++) {
        const side = next(2) === 0 ? 'sell' : 'buy';
        const accountId = accountIds[next(ACCOUNTS)] as string;
        placements.push(placeUntilAnswered(side, accountId, SYMBOLS[next(2)] as string, 1 + next(5)));
        await new Promise((resolve) => setTimeout(resolve, ORDER_EVERY_MS));
      }
      return Promise.all(placements);
    })();

    // The faults, one after another, while the stream runs.
    const at = (ms: number) =>
      new Promise((resolve) => setTimeout(resolve, Math.max(0, started + ms - Date.now())));
    const victim = () => KILLABLE[next(KILLABLE.length)] as (typeof KILLABLE)[number];
    await at(5_000);
    await killAndRestart(stack, victim(), faults, started);
    await at(12_000);
    await killAndRestart(stack, victim(), faults, started);
    await at(18_000);
    await restartRabbitMQ(3_000, faults, started);
    await at(28_000);
    await restartPostgreSQL(faults, started);
    await at(36_000);
    faults.push({
      at: Date.now() - started,
      fault: 'exchange down for 15 s (breaker reset is 5 s, window 10 s)',
    });
    await setFaults({ error_rate: 1 });
    await at(51_000);
    await setFaults({ error_rate: 0 });
    faults.push({ at: Date.now() - started, fault: 'exchange back' });
    await at(55_000);
    await killAndRestart(stack, victim(), faults, started);

    const results = await stream;
    const faultsEnded = Date.now();
    const accepted = results.filter((r) => r.accepted).length;

    // Within a bounded time every order of every account (including any whose answer was lost
    // with a killed gateway) reaches a terminal state.
    const orders = await waitFor(
      'every order to reach a terminal state',
      async () => {
        const all = (await Promise.all(accountIds.map(ordersOf))).flat();
        return all.every((o) => TERMINAL.has(o.status)) ? all : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    );
    const settledIn = Date.now() - faultsEnded;
    expect(orders.length).toBeGreaterThanOrEqual(accepted);
    for (const o of orders) expect(o.history.filter((h) => TERMINAL.has(h.status))).toHaveLength(1);

    // No fee kept twice or kept for an order that did not trade.
    let feesChecked = 0;
    for (const o of orders) {
      if (o.status === 'executed') {
        expect(await feeCharge(o.order_id)).toMatchObject({ status: 'charged', fee: o.fee });
      } else {
        await waitFor(`no fee kept for ${o.order_id}`, async () =>
          ['refunded', 'void', 'declined'].includes((await feeCharge(o.order_id)).status),
        );
      }
      feesChecked++;
    }

    // The ledger: opening + fills − fees = closing, nothing held, for every account.
    for (const [accountId, opening] of openings) {
      let cash = opening.cash;
      const shares = { ...opening.shares } as Record<string, number>;
      for (const o of orders.filter((x) => x.account_id === accountId && x.status === 'executed')) {
        const value = o.quantity * cents(o.fill_price);
        cash += o.side === 'sell' ? value - cents(o.fee) : -value - cents(o.fee);
        shares[o.symbol] = (shares[o.symbol] ?? 0) + (o.side === 'sell' ? -o.quantity : o.quantity);
      }
      const closing = await accountWithoutHolds(accountId);
      expect({ accountId, cash: cents(closing.cash.available) }).toEqual({ accountId, cash });
      for (const symbol of SYMBOLS) {
        expect({ accountId, symbol, shares: position(closing, symbol).quantity }).toEqual({
          accountId,
          symbol,
          shares: shares[symbol] ?? 0,
        });
      }
    }
    const check = await call<{ balanced: boolean }>(url.accounts, 'GET', '/ledger/balance-check');
    expect(check.body.balanced).toBe(true);

    // Nothing parked: this scenario put no poison message anywhere on purpose.
    const parked = await parkedMessages(VHOST);
    expect(parked).toEqual({});

    const byStatus = Object.fromEntries(
      Object.entries(Object.groupBy(orders, (o) => o.status)).map(([s, list]) => [s, list?.length ?? 0]),
    );
    console.log(
      [
        `chaos (seed ${SEED}): faults at ${faults.map((f) => `${(f.at / 1000).toFixed(1)}s ${f.fault}`).join('; ')}`,
        `orders sent ${ORDERS}, accepted ${accepted}, in the system ${orders.length}: ${JSON.stringify(byStatus)}`,
        `all terminal ${(settledIn / 1000).toFixed(1)} s after the faults ended; fees checked ${feesChecked}; accounts balanced ${openings.size}; parked messages 0`,
      ].join('\n'),
    );
  });
});
