import { Type } from 'typebox';
import { OrderSide, OrderStatus, SymbolParam } from './api.ts';
import { defineEvent } from './event.ts';

// Money is integer cents; quantities are whole shares.
const OrderId = Type.String({ format: 'uuid' });
const AccountId = Type.String({ minLength: 1, maxLength: 64 });
const Cents = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
/** A price per share: at most 10 million, so quantity × price stays an exact integer. */
const PriceCents = Type.Integer({ minimum: 0, maximum: 1_000_000_000 });
const Quantity = Type.Integer({ minimum: 1, maximum: 1_000_000 });
const Reason = Type.String({ minLength: 1, maxLength: 200 });
const strict = { additionalProperties: false } as const;

const orderId = '0b7f5c3e-8a34-4a1e-9a3b-6f1d2c3b4a5e';
const accountId = 'acc-alice';

/** T1: a customer's order exists. Carries the limit and the highest fee the customer agreed to. */
export const OrderCreated = defineEvent({
  name: 'OrderCreated',
  source: 'orders',
  schema: Type.Object(
    {
      orderId: OrderId,
      accountId: AccountId,
      side: OrderSide,
      symbol: SymbolParam,
      quantity: Quantity,
      /** Sell: the lowest acceptable price. Buy: the highest. */
      limitPriceCents: PriceCents,
      /** The fee quoted to the customer at the limit price; cash for it is reserved at T2. */
      maxFeeCents: Cents,
    },
    strict,
  ),
  example: {
    orderId,
    accountId,
    side: 'sell',
    symbol: 'ACME',
    quantity: 10,
    limitPriceCents: 9_500,
    maxFeeCents: 595,
  },
});

/** The customer cancelled an order not yet placed (book §5.3.3, interruption). */
export const OrderCanceled = defineEvent({
  name: 'OrderCanceled',
  source: 'orders',
  schema: Type.Object({ orderId: OrderId, accountId: AccountId }, strict),
  example: { orderId, accountId },
});

/** T2: shares (sell) or cash (buy) plus the fee allowance are held for the order. */
export const PositionReserved = defineEvent({
  name: 'PositionReserved',
  source: 'account-transactions',
  schema: Type.Object(
    {
      orderId: OrderId,
      accountId: AccountId,
      reservedShares: Type.Integer({ minimum: 0 }),
      reservedCashCents: Cents,
    },
    strict,
  ),
  example: { orderId, accountId, reservedShares: 10, reservedCashCents: 595 },
});

export const ReservationFailed = defineEvent({
  name: 'ReservationFailed',
  source: 'account-transactions',
  schema: Type.Object({ orderId: OrderId, accountId: AccountId, reason: Reason }, strict),
  example: { orderId, accountId, reason: 'insufficient_shares' },
});

/** T3: the fee is booked against the order; the cash moves at settlement. */
export const FeeCharged = defineEvent({
  name: 'FeeCharged',
  source: 'fees',
  schema: Type.Object({ orderId: OrderId, accountId: AccountId, feeCents: Cents }, strict),
  example: { orderId, accountId, feeCents: 595 },
});

export const ChargeFailed = defineEvent({
  name: 'ChargeFailed',
  source: 'fees',
  schema: Type.Object({ orderId: OrderId, accountId: AccountId, reason: Reason }, strict),
  example: { orderId, accountId, reason: 'fee_above_quoted_maximum' },
});

/** T4: the exchange accepted the order. */
export const OrderPlaced = defineEvent({
  name: 'OrderPlaced',
  source: 'market',
  schema: Type.Object(
    {
      orderId: OrderId,
      accountId: AccountId,
      exchangeOrderId: Type.String({ minLength: 1, maxLength: 100 }),
    },
    strict,
  ),
  example: { orderId, accountId, exchangeOrderId: 'X-1' },
});

/** Any failure before placement; triggers C1 (orders), C2 (account-transactions), C3 (fees). */
export const OrderFailed = defineEvent({
  name: 'OrderFailed',
  source: 'market',
  schema: Type.Object({ orderId: OrderId, accountId: AccountId, reason: Reason }, strict),
  example: { orderId, accountId, reason: 'exchange_rejected' },
});

/** The exchange filled the order: settlement moves shares and cash. */
export const TradeExecuted = defineEvent({
  name: 'TradeExecuted',
  source: 'market',
  schema: Type.Object(
    {
      orderId: OrderId,
      accountId: AccountId,
      side: OrderSide,
      symbol: SymbolParam,
      quantity: Quantity,
      fillPriceCents: PriceCents,
      feeCents: Cents,
    },
    strict,
  ),
  example: {
    orderId,
    accountId,
    side: 'sell',
    symbol: 'ACME',
    quantity: 10,
    fillPriceCents: 10_012,
    feeCents: 595,
  },
});

/** The order lapsed on the exchange unfilled. */
export const OrderExpired = defineEvent({
  name: 'OrderExpired',
  source: 'market',
  schema: Type.Object({ orderId: OrderId, accountId: AccountId }, strict),
  example: { orderId, accountId },
});

/**
 * The order's status as orders now holds it, after every change it makes (created, and each step
 * forward): what a customer's screen shows live. News, not a saga step: the gateway instances
 * take it on queues of their own while they run (`delivery: 'live'`).
 */
export const OrderStatusChanged = defineEvent({
  name: 'OrderStatusChanged',
  source: 'orders',
  delivery: 'live',
  schema: Type.Object(
    {
      orderId: OrderId,
      accountId: AccountId,
      status: OrderStatus,
      /** Why an order failed (`insufficient_shares`, …); null otherwise. */
      reason: Type.Union([Reason, Type.Null()]),
      at: Type.String({ format: 'date-time' }),
    },
    strict,
  ),
  example: { orderId, accountId, status: 'placed', reason: null, at: '2026-01-02T10:00:00.000Z' },
});

export const allEvents = [
  OrderCreated,
  OrderCanceled,
  PositionReserved,
  ReservationFailed,
  FeeCharged,
  ChargeFailed,
  OrderPlaced,
  OrderFailed,
  TradeExecuted,
  OrderExpired,
  OrderStatusChanged,
] as const;

/** The reasons an order fails with, as they appear in ReservationFailed, ChargeFailed and OrderFailed. */
export const FailureReason = {
  insufficientShares: 'insufficient_shares',
  insufficientCash: 'insufficient_cash',
  unknownAccount: 'unknown_account',
  feeAboveQuotedMaximum: 'fee_above_quoted_maximum',
  exchangeRejected: 'exchange_rejected',
  exchangeUnavailable: 'exchange_unavailable',
  /** OrderFailed for a customer's cancel: orders shows the order `canceled`, not `failed`. */
  canceledByCustomer: 'canceled_by_customer',
} as const;
