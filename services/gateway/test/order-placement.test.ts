import { RpcError } from '@simplebank/chassis';
import { describe, expect, it } from 'vitest';
import { httpErrorOf, type OrderPlacementDeps, orderPlacement } from '../src/commands/order-placement.ts';

describe('errors orders replies with', () => {
  it.each([
    ['validation_failed', 400],
    ['unknown_account', 422],
    ['order_id_conflict', 409],
    ['order_not_found', 404],
    ['order_not_cancelable', 409],
    ['unknown_symbol', 422],
    ['service_unavailable', 503],
    ['unknown_method', 503],
    ['internal_error', 500],
  ])('%s keeps its code, as a %i', (code, status) => {
    const error = httpErrorOf(new RpcError(code, 'why'));
    expect(error).toMatchObject({ statusCode: status, code, message: 'why' });
  });

  it('at_capacity is, to the customer, the service unavailable for a moment', () => {
    const error = httpErrorOf(new RpcError('at_capacity', 'too many orders in flight'));
    expect(error).toMatchObject({ statusCode: 503, code: 'service_unavailable' });
  });
});

describe('shedding load while orders is at capacity', () => {
  const request = { account_id: 'acc-1', symbol: 'ACME', quantity: 1 };
  const who = { customer: 'alice', orderId: '3f2b8c4e-5d6a-4b7c-8d9e-0f1a2b3c4d5e', keyed: false };

  /** A placement whose orders answers with whatever `answers` holds next. */
  function placementAnswering(answers: Array<'at_capacity' | 'created'>) {
    const calls: string[] = [];
    const deps = {
      quotes: { priceCents: async () => 10_000 },
      owners: { ownerOf: async () => 'alice' },
      feeSchedule: {
        get: async () => ({ value: { fixedCents: 100, rateBasisPoints: 10, minimumCents: 0 } }),
      },
      broker: {
        call: async (_service: string, method: string) => {
          calls.push(method);
          if (answers.shift() === 'at_capacity')
            throw new RpcError('at_capacity', 'too many orders in flight');
          return { orderId: who.orderId, status: 'created' };
        },
      },
      collarBasisPoints: 500,
      rpcTimeoutMs: 1000,
      log: { info: () => undefined, debug: () => undefined },
    } as unknown as OrderPlacementDeps;
    return { placement: orderPlacement(deps), calls };
  }
  const refusesHere = (placement: ReturnType<typeof orderPlacement>) => {
    try {
      placement.refuseIfAtCapacity();
      return false;
    } catch (error) {
      expect(error).toMatchObject({ statusCode: 503, code: 'service_unavailable' });
      return true;
    }
  };

  it('refuses by itself after orders said it is at capacity, letting one order through now and then to ask again', async () => {
    const { placement, calls } = placementAnswering(['at_capacity', 'at_capacity', 'created']);

    expect(refusesHere(placement)).toBe(false);
    await expect(placement.place('sell', request, who)).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
    });
    expect(calls).toEqual(['sell']);
    // the next orders are refused here, before anything else is done for them
    expect([refusesHere(placement), refusesHere(placement)]).toEqual([true, true]);

    // a moment later one order goes through as a probe, and the orders beside it are still refused
    await expect.poll(() => refusesHere(placement)).toBe(false);
    expect(refusesHere(placement)).toBe(true);
    await expect(placement.place('sell', request, who)).rejects.toMatchObject({ statusCode: 503 });
    expect(calls).toEqual(['sell', 'sell']);
    expect(refusesHere(placement)).toBe(true);

    // the next probe is taken: shedding ends, and every order asks orders again
    await expect.poll(() => refusesHere(placement)).toBe(false);
    await expect(placement.place('sell', request, who)).resolves.toEqual({
      order_id: who.orderId,
      status: 'created',
    });
    expect([refusesHere(placement), refusesHere(placement)]).toEqual([false, false]);
    expect(calls).toEqual(['sell', 'sell', 'sell']);
  });
});
