import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Broker, createLogger, HttpError, isStale } from '@simplebank/chassis';
import { feeScheduleBody, type Quotes } from '@simplebank/contracts';
import { describe, expect, it } from 'vitest';
import { orderPlacement } from '../src/commands/order-placement.ts';
import { feeSchedule } from '../src/upstream/fee-schedule.ts';
import { Owners } from '../src/upstream/owners.ts';
import { QuoteBook } from '../src/upstream/quotes.ts';
import { Refreshed } from '../src/upstream/refreshed.ts';
import type { Upstream } from '../src/upstream/upstream.ts';

// What the order path keeps in memory (quote board, fee schedule, owners), against upstreams that
// count what they are asked: a hit asks nobody, a miss asks once, a failed fetch keeps the last.
const log = createLogger('gateway', 'silent');
const down = (name: string) => new HttpError(503, 'service_unavailable', `${name} is unavailable: down`);

/** An upstream answering `answer(path)` (a thrown error is its failure), counting what it is asked. */
function fakeUpstream(name: string, answer: (path: string) => unknown) {
  const calls: string[] = [];
  const upstream = {
    name,
    get: async (path: string, options: { notFound?: HttpError } = {}) => {
      calls.push(path);
      const body = answer(path);
      if (body === undefined && options.notFound) throw options.notFound; // a 404
      return body;
    },
  } as unknown as Upstream;
  return { upstream, calls };
}

const BOARD: Quotes = {
  quotes: [
    { symbol: 'ACME', price: '100.00', at: '2025-01-01T00:00:00.000Z' },
    { symbol: 'HOOLI', price: '12.34', at: '2025-01-01T00:00:00.000Z' },
  ],
};
const SCHEDULE = { fixedCents: 100, rateBasisPoints: 25, minimumCents: 250 };

describe('Refreshed: a value held in memory, fetched again in the background', () => {
  it('fetches on a miss, then answers from memory', async () => {
    let fetches = 0;
    const held = new Refreshed('thing', 60_000, async () => ++fetches, log);
    expect((await held.get()).value).toBe(1);
    expect((await held.get()).value).toBe(1);
    expect(fetches).toBe(1);
  });

  it('shares one fetch between the misses that come while it runs', async () => {
    let fetches = 0;
    const held = new Refreshed(
      'thing',
      60_000,
      async () => {
        await sleep(10);
        return ++fetches;
      },
      log,
    );
    const values = await Promise.all([held.get(), held.get(), held.get()]);
    expect(values.map((v) => v.value)).toEqual([1, 1, 1]);
    expect(fetches).toBe(1);
  });

  it('keeps what it held when a fetch fails, its age growing', async () => {
    let clock = 0;
    let failing = false;
    const held = new Refreshed(
      'thing',
      60_000,
      async () => {
        if (failing) throw down('upstream');
        return 'first';
      },
      log,
      () => clock,
    );
    await held.refresh();
    failing = true;
    clock = 5_000;
    await expect(held.refresh()).rejects.toMatchObject({ statusCode: 503 });
    expect(await held.get()).toEqual({ value: 'first', ageMs: 5_000 });
  });

  it('fails with the fetch while it never held anything, and tries again on the next miss', async () => {
    let failing = true;
    const held = new Refreshed(
      'thing',
      60_000,
      async () => {
        if (failing) throw down('upstream');
        return 'value';
      },
      log,
    );
    await expect(held.get()).rejects.toMatchObject({ message: 'upstream is unavailable: down' });
    failing = false;
    expect((await held.get()).value).toBe('value');
  });

  it('fetches at start and every interval after, until stopped', async () => {
    let fetches = 0;
    const held = new Refreshed('thing', 10, async () => ++fetches, log);
    held.start();
    await expect.poll(() => fetches).toBeGreaterThanOrEqual(3);
    await held.stop();
    const stopped = fetches;
    await sleep(50);
    expect(fetches).toBe(stopped);
  });
});

describe('the quote board in memory', () => {
  const book = (answer: (path: string) => unknown, maxAgeMs = 60_000) => {
    const market = fakeUpstream('market', answer);
    return {
      quotes: new QuoteBook(market.upstream, { refreshMs: 60_000, maxAgeMs }, log),
      calls: market.calls,
    };
  };

  it('prices orders from the board it holds: market is asked once, not per order', async () => {
    const { quotes, calls } = book(() => BOARD);
    expect(await quotes.priceCents('ACME')).toBe(10_000);
    expect(await quotes.priceCents('HOOLI')).toBe(1_234);
    expect(await quotes.board()).toEqual(BOARD);
    expect(calls).toEqual(['/market/quotes']);
  });

  it('answers a symbol missing from the board with 422 unknown_symbol', async () => {
    const { quotes } = book(() => BOARD);
    await expect(quotes.priceCents('NOPE')).rejects.toMatchObject({
      statusCode: 422,
      code: 'unknown_symbol',
      message: 'no quote for symbol NOPE',
    });
  });

  it('keeps the last board when market fails; once it is too old it prices no order, and is served stale', async () => {
    let failing = false;
    const { quotes, calls } = book(() => {
      if (failing) throw down('market');
      return BOARD;
    }, 1);
    await quotes.board();
    failing = true;
    await sleep(5); // older than maxAgeMs
    await expect(quotes.priceCents('ACME')).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: expect.stringMatching(/^market is unavailable: its last quotes are \d+ ms old$/),
    });
    await expect(quotes.board()).rejects.toMatchObject({ statusCode: 503 });
    const stale = await quotes.board({ allowStale: true });
    expect(stale).toEqual({ quotes: BOARD.quotes.map((q) => ({ ...q, stale: true })) });
    expect(isStale(stale)).toBe(true);
    expect(calls).toHaveLength(1); // requests never waited on market while a board was held
  });

  it('is a 503 with no board at all, stale allowed or not', async () => {
    const { quotes } = book(() => {
      throw down('market');
    });
    await expect(quotes.priceCents('ACME')).rejects.toMatchObject({ statusCode: 503 });
    await expect(quotes.board({ allowStale: true })).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: 'market is unavailable: down',
    });
  });

  it('takes a 4xx, an answer that is not a quote board, or an empty one, for a failed fetch', async () => {
    const { quotes } = book(() => ({ quotes: [{ symbol: 'ACME', price: 100 }] }));
    await expect(quotes.priceCents('ACME')).rejects.toMatchObject({
      statusCode: 503,
      message: 'market is unavailable: it answered something that is not a quote board',
    });
    // a market out of step (no such route): its 404 is no customer's 4xx
    const missing = book(() => {
      throw new HttpError(404, 'not_found', 'no route');
    });
    await expect(missing.quotes.board({ allowStale: true })).rejects.toMatchObject({
      statusCode: 503,
      message: 'market is unavailable: it answered 404',
    });
    // a market not ready yet: every symbol would otherwise be unknown_symbol
    const empty = book(() => ({ quotes: [] }));
    await expect(empty.quotes.priceCents('ACME')).rejects.toMatchObject({
      statusCode: 503,
      message: 'market is unavailable: it has no quotes yet',
    });
  });
});

describe("fees' schedule in memory", () => {
  it('is fetched once and kept; with none ever fetched, a 503', async () => {
    let failing = true;
    const fees = fakeUpstream('fees', () => {
      if (failing) throw down('fees');
      return feeScheduleBody(SCHEDULE);
    });
    const schedule = feeSchedule(fees.upstream, 60_000, log);
    await expect(schedule.get()).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: 'fees is unavailable: down',
    });
    failing = false;
    expect((await schedule.get()).value).toEqual(SCHEDULE);
    failing = true;
    await expect(schedule.refresh()).rejects.toMatchObject({ statusCode: 503 });
    expect((await schedule.get()).value).toEqual(SCHEDULE);
    expect(fees.calls).toEqual(['/fees/schedule', '/fees/schedule', '/fees/schedule']);
  });

  it('takes an answer that is not a schedule for a failed fetch', async () => {
    const fees = fakeUpstream('fees', () => ({ fixed: 1, rate_basis_points: 25, minimum: '2.50' }));
    await expect(feeSchedule(fees.upstream, 60_000, log).get()).rejects.toMatchObject({
      statusCode: 503,
      message: 'fees is unavailable: it answered something that is not a fee schedule',
    });
  });
});

describe('account owners in memory', () => {
  it('asks account-transactions on a miss only', async () => {
    const accounts = fakeUpstream('account-transactions', () => ({ owner: 'alice' }));
    const owners = new Owners(accounts.upstream);
    expect(await owners.ownerOf('acc-1')).toBe('alice');
    expect(await owners.owns('alice', 'acc-1')).toBe(true);
    expect(await owners.owns('bob', 'acc-1')).toBe(false);
    expect(accounts.calls).toEqual(['/accounts/acc-1']);
  });

  it('remembers no account that does not exist: it may be opened later', async () => {
    const accounts = fakeUpstream('account-transactions', () => undefined);
    const owners = new Owners(accounts.upstream);
    expect(await owners.ownerOf('acc-none')).toBeUndefined();
    expect(await owners.ownerOf('acc-none')).toBeUndefined();
    expect(accounts.calls).toHaveLength(2);
  });

  it('forgets the least recently used owner when full', async () => {
    const accounts = fakeUpstream('account-transactions', () => ({ owner: 'someone' }));
    const owners = new Owners(accounts.upstream);
    for (let i = 0; i < 10_000; i++) owners.remember(`acc-${i}`, 'someone');
    await owners.ownerOf('acc-0'); // used: now the most recent
    owners.remember('acc-new', 'someone');
    await owners.ownerOf('acc-0');
    expect(accounts.calls).toEqual([]);
    await owners.ownerOf('acc-1'); // the one forgotten
    expect(accounts.calls).toEqual(['/accounts/acc-1']);
  });
});

describe("the order path's round trips", () => {
  function placementOver({ owner = 'alice' } = {}) {
    const rpc: unknown[] = [];
    const broker = {
      call: async (_service: string, _method: string, params: { orderId: string }) => {
        rpc.push(params);
        return { orderId: params.orderId, status: 'created' };
      },
    } as unknown as Broker;
    const market = fakeUpstream('market', () => BOARD);
    const fees = fakeUpstream('fees', () => feeScheduleBody(SCHEDULE));
    const accounts = fakeUpstream('account-transactions', () => ({ owner }));
    const placement = orderPlacement({
      quotes: new QuoteBook(market.upstream, { refreshMs: 60_000, maxAgeMs: 60_000 }, log),
      owners: new Owners(accounts.upstream),
      feeSchedule: feeSchedule(fees.upstream, 60_000, log),
      orders: fakeUpstream('orders', () => undefined).upstream,
      broker,
      collarBasisPoints: 500,
      rpcTimeoutMs: 5000,
      log,
    });
    const asked = () => [...market.calls, ...fees.calls, ...accounts.calls];
    return { placement, rpc, asked };
  }
  const ORDER = { account_id: 'acc-1', symbol: 'ACME', quantity: 10 };
  const place = (placement: ReturnType<typeof placementOver>['placement'], side: 'sell' | 'buy' = 'sell') =>
    placement.place(side, ORDER, { customer: 'alice', orderId: randomUUID(), keyed: false });

  it('once the board, the schedule and the owner are held, an order is its RPC to orders and nothing else', async () => {
    const { placement, rpc, asked } = placementOver();
    await place(placement);
    expect(asked().toSorted()).toEqual(['/accounts/acc-1', '/fees/schedule', '/market/quotes']);
    await place(placement, 'buy');
    await place(placement);
    expect(asked()).toHaveLength(3);
    expect(rpc).toHaveLength(3);
  });

  it('prices the order with the schedule: the limit off the quote, the fee on quantity × limit', async () => {
    const { placement, rpc } = placementOver();
    await place(placement);
    // sell: 100.00 − 5 % = 95.00; 10 × 95.00 = 950.00; 1.00 + 0.25 % of it (2.375, half up 2.38)
    expect(rpc[0]).toMatchObject({ limitPriceCents: 9_500, maxFeeCents: 338 });
    expect(await placement.estimateFee({ side: 'sell', symbol: 'ACME', quantity: 10 })).toEqual({
      side: 'sell',
      symbol: 'ACME',
      quantity: 10,
      price: '95.00',
      value: '950.00',
      fee: '3.38',
    });
  });

  it("answers another customer's account as one that does not exist: 422 unknown_account", async () => {
    const { placement, rpc } = placementOver({ owner: 'bob' });
    for (let i = 0; i < 2; i++)
      await expect(place(placement)).rejects.toMatchObject({
        statusCode: 422,
        code: 'unknown_account',
        message: 'no account acc-1',
      });
    expect(rpc).toEqual([]);
  });

  it('reports an unknown symbol before an unknown account', async () => {
    const { placement } = placementOver({ owner: 'bob' });
    await expect(
      placement.place(
        'buy',
        { ...ORDER, symbol: 'NOPE' },
        { customer: 'alice', orderId: randomUUID(), keyed: false },
      ),
    ).rejects.toMatchObject({ statusCode: 422, code: 'unknown_symbol' });
  });
});
