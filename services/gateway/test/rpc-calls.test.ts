import { randomUUID } from 'node:crypto';
import { type Broker, createLogger } from '@simplebank/chassis';
import { feeScheduleBody } from '@simplebank/contracts';
import { describe, expect, it } from 'vitest';
import { orderCancel } from '../src/commands/order-cancel.ts';
import { orderPlacement } from '../src/commands/order-placement.ts';
import { feeSchedule } from '../src/upstream/fee-schedule.ts';
import { Owners } from '../src/upstream/owners.ts';
import type { QuoteBook } from '../src/upstream/quotes.ts';
import type { Upstream } from '../src/upstream/upstream.ts';

// What the gateway asks of Broker.call; the retries, timeouts and breaker behind it are the
// chassis' (libs/chassis/test/rpc-reliability.test.ts).
type Call = { service: string; method: string; params: unknown; timeoutMs: number; options: unknown };
function recordingBroker(result: unknown) {
  const calls: Call[] = [];
  const broker = {
    call: async (service: string, method: string, params: unknown, timeoutMs: number, options: unknown) => {
      calls.push({ service, method, params, timeoutMs, options });
      return result;
    },
  } as unknown as Broker;
  return { broker, calls };
}
const upstream = (answer: (path: string) => unknown) =>
  ({ name: 'fake', get: async (path: string) => answer(path) }) as unknown as Upstream;
const log = createLogger('gateway', 'silent');
const SCHEDULE = { fixedCents: 100, rateBasisPoints: 25, minimumCents: 250 };

describe('the gateway’s RPC calls to orders', () => {
  it.each(['sell', 'buy'] as const)('marks %s idempotent: the gateway chose the order id', async (side) => {
    const orderId = randomUUID();
    const { broker, calls } = recordingBroker({ orderId, status: 'created' });
    const placement = orderPlacement({
      quotes: { priceCents: async () => 1000 } as unknown as QuoteBook,
      owners: new Owners(upstream(() => ({ owner: 'alice' }))),
      feeSchedule: feeSchedule(
        upstream(() => feeScheduleBody(SCHEDULE)),
        60_000,
        log,
      ),
      orders: upstream(() => undefined),
      broker,
      collarBasisPoints: 500,
      rpcTimeoutMs: 5000,
      log,
    });
    const accepted = await placement.place(
      side,
      { account_id: 'acc-1', symbol: 'ACME', quantity: 10 },
      { customer: 'alice', orderId, keyed: false },
    );
    expect(accepted).toEqual({ order_id: orderId, status: 'created' });
    expect(calls).toEqual([
      {
        service: 'orders',
        method: side,
        params: expect.objectContaining({ orderId, accountId: 'acc-1' }),
        timeoutMs: 5000,
        options: { correlationId: orderId, idempotent: true },
      },
    ]);
  });

  it('marks cancel idempotent: a second cancel changes nothing', async () => {
    const orderId = randomUUID();
    const { broker, calls } = recordingBroker({ orderId, status: 'created' });
    const cancel = orderCancel({ broker, orders: upstream(() => undefined), rpcTimeoutMs: 5000, log });
    const outcome = await cancel({ order_id: orderId, account_id: 'acc-1' }, 'alice');
    expect(outcome.statusCode).toBe(202);
    expect(calls).toEqual([
      {
        service: 'orders',
        method: 'cancel',
        params: { orderId, accountId: 'acc-1' },
        timeoutMs: 5000,
        options: { correlationId: orderId, idempotent: true },
      },
    ]);
  });
});
