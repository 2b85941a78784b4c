import type { EventDefinition } from '@simplebank/contracts';

// Names of the book's chassis (ch.7), so its dashboards and alerts read the same.

/** `evt-<source>-<event>--<consumer>.<handler>`: one durable quorum queue per (consumer, handler). */
export const handlerQueue = (event: EventDefinition, consumer: string, handler: string): string =>
  `evt-${event.source}-${event.routingKey}--${consumer}.${handler}`;

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

/**
 * Deliveries of one message before the broker itself dead-letters it: a safety net for a message
 * that crashes its process every time (normal failures are retried through the retry queues).
 * A queue argument, so fixed: changing it would make existing queues refuse the declaration.
 */
export const DELIVERY_LIMIT = 20;
