// The names live in the contracts library, beside the events, so that docs/asyncapi.json and the
// chassis cannot disagree on them.
export {
  deadLetterExchange,
  deadLetterQueue,
  handlerQueue,
  liveQueue,
  retryQueue,
  rpcQueue,
} from '@simplebank/contracts';

/**
 * Deliveries of one message before the broker itself dead-letters it: a safety net for a message
 * that crashes its process every time (normal failures are retried through the retry queues).
 * A queue argument, so fixed: changing it would make existing queues refuse the declaration.
 */
export const DELIVERY_LIMIT = 20;
