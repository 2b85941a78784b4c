import { type EventDefinition, subscriptions } from '@simplebank/contracts';

// The names live in the contracts library, beside the events, so that docs/asyncapi.json and the
// chassis cannot disagree on them.
export {
  deadLetterExchange,
  deadLetterQueue,
  handlerQueue,
  liveQueue,
  RPC_EXCHANGE,
  retryQueue,
  rpcQueue,
  rpcRoutes,
} from '@simplebank/contracts';

/**
 * Deliveries of one message before the broker itself dead-letters it: a safety net for a message
 * that crashes its process every time (normal failures are retried through the retry queues).
 * A queue argument, so fixed: changing it would make existing queues refuse the declaration.
 */
export const DELIVERY_LIMIT = 20;
/**
 * What the service publishes or consumes that the event contracts (libs/contracts `subscriptions`
 * and each event's `source`, from which docs/asyncapi.json is made) do not describe.
 */
export function undescribedTopology(
  service: string,
  publishes: readonly EventDefinition[],
  consumes: readonly { event: EventDefinition; handler: string }[],
): string[] {
  return [
    ...publishes
      .filter((event) => event.source !== service)
      .map((event) => `publishes ${event.name}, whose producer is ${event.source}`),
    ...consumes
      .filter(
        ({ event, handler }) =>
          !subscriptions.some((s) => s.service === service && s.handler === handler && s.event === event),
      )
      .map(
        ({ event, handler }) => `consumes ${event.name} in ${handler}, not a subscription of the contracts`,
      ),
  ];
}
