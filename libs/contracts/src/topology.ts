import type { EventDefinition } from './event.ts';
import {
  ChargeFailed,
  FeeCharged,
  OrderCanceled,
  OrderCreated,
  OrderExpired,
  OrderFailed,
  OrderPlaced,
  OrderStatusChanged,
  PositionReserved,
  ReservationFailed,
  TradeExecuted,
} from './events.ts';

// The messaging topology (ARCHITECTURE §4): names of the book's chassis (ch.7), so its dashboards
// and alerts read the same. The chassis declares exactly these; docs/asyncapi.json describes them.

/** `evt-<source>-<event>--<consumer>.<handler>`: one durable quorum queue per (consumer, handler). */
export const handlerQueue = (event: EventDefinition, consumer: string, handler: string): string =>
  `evt-${event.source}-${event.routingKey}--${consumer}.${handler}`;

/**
 * `live-<source>-<event>--<consumer>.<handler>.<instance>`: a `live` event's queue for one running
 * instance of the consumer, exclusive and deleted with its connection (classic, not durable).
 */
export const liveQueue = (
  event: EventDefinition,
  consumer: string,
  handler: string,
  instance: string,
): string => `live-${event.source}-${event.routingKey}--${consumer}.${handler}.${instance}`;

/** Parking lot of a handler queue: messages that failed validation or every delivery attempt. */
export const deadLetterQueue = (queue: string): string => `${queue}.dlq`;

/** Each service's dead-letter exchange; routing key = the handler queue's name. */
export const deadLetterExchange = (service: string): string => `${service}.dlx`;

export const rpcQueue = (service: string): string => `rpc-${service}`;

/**
 * Where a failed message waits before its next attempt: one queue per retry level, whose expired
 * messages dead-letter back to the handler queue through the default exchange.
 */
export const retryQueue = (queue: string, level: number): string => `${queue}.retry.${level}`;

/** One handler of one service, consuming one event. */
export interface Subscription {
  event: EventDefinition;
  service: string;
  handler: string;
}

const sub = (service: string, handler: string, event: EventDefinition): Subscription => ({
  event,
  service,
  handler,
});

/**
 * Who consumes what: the contract each service's handlers are held to (the e2e contract test
 * compares the queues every running service declares with this list, through docs/asyncapi.json).
 */
export const subscriptions: readonly Subscription[] = [
  // T2, C2 and settlement
  sub('account-transactions', 'reserve_position', OrderCreated),
  sub('account-transactions', 'release_reservation', OrderFailed),
  sub('account-transactions', 'release_expired_reservation', OrderExpired),
  sub('account-transactions', 'settle_trade', TradeExecuted),
  // T3, C3
  sub('fees', 'charge_fee', OrderCreated),
  sub('fees', 'refund_fee', OrderFailed),
  sub('fees', 'refund_expired_fee', OrderExpired),
  // T4
  sub('market', 'track_order', OrderCreated),
  sub('market', 'track_reservation', PositionReserved),
  sub('market', 'track_fee', FeeCharged),
  sub('market', 'fail_on_reservation_failure', ReservationFailed),
  sub('market', 'fail_on_charge_failure', ChargeFailed),
  sub('market', 'cancel_order', OrderCanceled),
  // T5, C1
  sub('orders', 'mark_placed', OrderPlaced),
  sub('orders', 'mark_failed', OrderFailed),
  sub('orders', 'mark_executed', TradeExecuted),
  sub('orders', 'mark_expired', OrderExpired),
  // the place-order screen's live status (a queue per gateway instance)
  sub('gateway', 'push_order_status', OrderStatusChanged),
];
