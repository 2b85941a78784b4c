import { type Static, Type } from 'typebox';

// Commands sent by the gateway to orders over AMQP RPC (queue `rpc-orders`).
export const PlaceOrderCommand = Type.Object(
  {
    /** Chosen by the caller so that a retried command creates one order. */
    orderId: Type.String({ format: 'uuid' }),
    accountId: Type.String({ minLength: 1, maxLength: 64 }),
    symbol: Type.String({ pattern: '^[A-Z]{1,8}$' }),
    quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    limitPriceCents: Type.Integer({ minimum: 0 }),
    maxFeeCents: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type PlaceOrderCommand = Static<typeof PlaceOrderCommand>;

export const PlaceOrderResult = Type.Object({ orderId: Type.String(), status: Type.Literal('created') });
export type PlaceOrderResult = Static<typeof PlaceOrderResult>;

/** What an RPC server replies: a result or a machine-readable error. */
export type RpcReply<T> = { ok: true; result: T } | { ok: false; error: { code: string; message: string } };
