import { type Static, Type } from 'typebox';
import { SymbolParam } from './api.ts';

// Commands sent by the gateway to orders over AMQP RPC (queue `rpc-orders`).
export const PlaceOrderCommand = Type.Object(
  {
    /** Chosen by the caller so that a retried command creates one order. */
    orderId: Type.String({ format: 'uuid' }),
    accountId: Type.String({ minLength: 1, maxLength: 64 }),
    symbol: SymbolParam,
    quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    limitPriceCents: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
    maxFeeCents: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  { additionalProperties: false },
);
export type PlaceOrderCommand = Static<typeof PlaceOrderCommand>;

/**
 * The gateway's cancel: `accountId` is the account the gateway checked the customer owns; an order
 * of another account is not found.
 */
export const CancelOrderCommand = Type.Object(
  {
    orderId: Type.String({ format: 'uuid' }),
    accountId: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type CancelOrderCommand = Static<typeof CancelOrderCommand>;

/** The order keeps its status until market says how the cancel ended (docs/saga.md, "The customer cancel"). */
export interface CancelOrderResult {
  orderId: string;
  status: 'created' | 'placed';
}

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
  /** The caller's broker user is not a client of this server (contracts' `rpcRoutes`). */
  forbidden: 'forbidden',
  /** A place-order command whose order id exists with other terms (a reused id, not a retry). */
  orderIdConflict: 'order_id_conflict',
} as const;
