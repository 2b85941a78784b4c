import { RpcError } from '@simplebank/chassis';
import { describe, expect, it } from 'vitest';
import { httpErrorOf } from '../src/order-placement.ts';

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
