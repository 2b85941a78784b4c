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
