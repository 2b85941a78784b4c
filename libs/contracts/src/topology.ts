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

// The messaging topology (docs/architecture.md §3): names of the book's chassis (ch.7), so its dashboards
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
 * The saga's steps by the codes the book gives them (ch.5; docs/saga.md): the `// T3`, `// C2`
 * beside the handlers, and `saga_compensations_total`'s `compensation` label, mean these.
 */
export const SagaStep = {
  T1: 'orders creates the order (OrderCreated)',
  T2: 'account-transactions holds the shares or the cash (PositionReserved)',
  T3: 'fees charges the fee (FeeCharged)',
  T4: 'market places the order on the exchange (OrderPlaced)',
  T5: 'orders marks the order placed',
  C1: 'orders ends the order failed or canceled',
  C2: 'account-transactions releases the hold',
  C3: 'fees refunds the fee',
} as const;
export type SagaStep = keyof typeof SagaStep;

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

/**
 * RPC requests go through this exchange, never the default one (whoever may write to the default
 * exchange may write to any queue by name). A topic exchange, so that the broker's topic
 * permissions can limit a caller to the servers it calls; routing key = the server's queue.
 */
export const RPC_EXCHANGE = 'rpc';

/** Who calls whom over RPC (rpc.ts): the gateway sends orders its commands. */
export const rpcRoutes: readonly { client: string; server: string }[] = [
  { client: 'gateway', server: 'orders' },
];

/** The services that connect to RabbitMQ, each as a broker user of its own. */
export const brokerServices: readonly string[] = [
  'account-transactions',
  'fees',
  'market',
  'orders',
  'gateway',
];

/** The three regular expressions of a RabbitMQ user's permissions in one virtual host. */
export interface BrokerPermissions {
  configure: string;
  write: string;
  read: string;
}

/** A broker user's permissions, and a topic permission on one exchange (the RPC exchange, for a caller). */
export interface BrokerGrant extends BrokerPermissions {
  topic?: { exchange: string; write: string; read: string } | undefined;
}

/** A name as a regular expression matching only it (`-` needs no escape outside a class). */
const literal = (name: string) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const anyOf = (names: string[]) => `^(${[...new Set(names)].join('|')})$`;

/**
 * What a service's broker user may do (docs/architecture.md §3): declare, write to
 * and read its own exchanges and queues; bind its queues to the exchanges of the events it
 * consumes (read on them); publish to its own `<service>.events` and, as an RPC client, to `rpc`.
 * The default exchange (`amq.default`) only for the services that need it: a consumer sends its
 * retry copies through it, an RPC server its direct reply-to replies. The gateway needs neither.
 * Declaring an existing exchange takes configure permission, so a consumer may declare (and could
 * delete) the exchanges it consumes from: availability, not integrity (an event's `user_id` says
 * who published it, and consumers check it).
 */
export function brokerPermissions(service: string): BrokerPermissions {
  const own = literal(service);
  const publishes = new Set<string>(
    subscriptions.filter((s) => s.event.source === service).map((s) => s.event.exchange),
  );
  const consumed = subscriptions.filter((s) => s.service === service);
  const consumes = consumed.map((s) => literal(s.event.exchange));
  const retries = consumed.some((s) => s.event.delivery === 'saga');
  const serves = rpcRoutes.some((r) => r.server === service);
  const calls = rpcRoutes.some((r) => r.client === service);
  const queues = [
    `evt-[a-z0-9_-]+--${own}\\.[a-z0-9_]+(\\.dlq|\\.retry\\.[0-9]+)?`,
    `live-[a-z0-9_-]+--${own}\\.[a-z0-9_]+\\.[^.]+`,
    ...(serves ? [literal(rpcQueue(service))] : []),
  ];
  const ownExchanges = [...[...publishes].map(literal), literal(deadLetterExchange(service))];
  const rpc = serves || calls ? [literal(RPC_EXCHANGE)] : [];
  return {
    configure: anyOf([...ownExchanges, ...consumes, ...rpc, ...queues]),
    write: anyOf([
      ...ownExchanges,
      ...(calls ? rpc : []),
      ...(retries || serves ? ['amq\\.default'] : []),
      ...queues,
    ]),
    read: anyOf([
      literal(deadLetterExchange(service)),
      ...consumes,
      ...(serves ? rpc : []),
      ...(calls ? ['amq\\.rabbitmq\\.reply-to'] : []),
      ...queues,
    ]),
  };
}

/** A caller's topic permission on `rpc`: it may send requests to the servers it calls only. */
export function rpcTopicPermission(
  service: string,
): { exchange: string; write: string; read: string } | undefined {
  const servers = rpcRoutes.filter((r) => r.client === service).map((r) => literal(rpcQueue(r.server)));
  return servers.length > 0 ? { exchange: RPC_EXCHANGE, write: anyOf(servers), read: '^$' } : undefined;
}
