import { HttpError, RpcError } from '@simplebank/chassis';
import { describe, expect, it } from 'vitest';
import { httpErrorOf, type OrderPlacementDeps, orderPlacement } from '../src/order-placement.ts';

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

  it('refuses by itself, without asking orders, for a moment after orders said it is at capacity', async () => {
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
          throw new RpcError('at_capacity', 'too many orders in flight');
        },
      },
      collarBasisPoints: 500,
      rpcTimeoutMs: 1000,
      log: { info: () => undefined },
    } as unknown as OrderPlacementDeps;
    const placement = orderPlacement(deps);

    expect(() => placement.refuseIfAtCapacity()).not.toThrow();
    await expect(placement.place('sell', request, who)).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
    });
    expect(calls).toEqual(['sell']);
    // the next order is refused here, before anything else is done for it
    expect(() => placement.refuseIfAtCapacity()).toThrow(HttpError);
    await expect
      .poll(() => {
        try {
          placement.refuseIfAtCapacity();
          return 'asks orders again';
        } catch {
          return 'refuses';
        }
      })
      .toBe('asks orders again');
    expect(calls).toEqual(['sell']);
  });
});
