import { type Static, Type } from 'typebox';

// Commands sent by the gateway to orders over AMQP RPC (queue `rpc-orders`).
export const PlaceOrderCommand = Type.Object(
  {
    /** Chosen by the caller so that a retried command creates one order. */
    orderId: Type.String({ format: 'uuid' }),
    accountId: Type.String({ minLength: 1, maxLength: 64 }),
    symbol: Type.String({ pattern: '^(?!CASH$)[A-Z]{1,8}$' }),
    quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    limitPriceCents: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
    maxFeeCents: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { additionalProperties: false },
);
export type PlaceOrderCommand = Static<typeof PlaceOrderCommand>;

export const PlaceOrderResult = Type.Object({ orderId: Type.String(), status: Type.Literal('created') });
export type PlaceOrderResult = Static<typeof PlaceOrderResult>;

/** What an RPC server replies: a result or a machine-readable error. */
export type RpcReply<T> = { ok: true; result: T } | { ok: false; error: { code: string; message: string } };

/** Error codes an RPC server replies with, beside a method's own. */
export const RpcErrorCode = {
  validationFailed: 'validation_failed',
  unknownMethod: 'unknown_method',
  internal: 'internal_error',
  /** The caller's client gave up or the server did not answer in time. */
  serviceUnavailable: 'service_unavailable',
  /** The server is at the limit of the work it takes on (orders in flight): try again shortly. */
  atCapacity: 'at_capacity',
} as const;
