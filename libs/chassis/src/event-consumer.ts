import { randomUUID } from 'node:crypto';
import { type Envelope, type EventDefinition, validateEnvelope } from '@simplebank/contracts';
import {
  type Envelope as AmqpEnvelope,
  type AsyncMessage,
  type Consumer,
  ConsumerStatus,
  type MessageBody,
} from 'rabbitmq-client';
import { ServiceStopping } from './database-gate.ts';
import { observe } from './metrics.ts';
import type { ConfirmedPublisher } from './publishers.ts';
import type { BrokerLink } from './senders.ts';
import { DELIVERY_LIMIT, deadLetterExchange, retryQueue } from './topology.ts';
import { processingSpan, SpanKind } from './tracing.ts';

/** The handler said the message can never succeed: park it now instead of retrying. */
export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
}

export interface HandlerQueue {
  queue: string;
  event: EventDefinition;
}

/** Messages a consumer holds unacked (`prefetch`), and how many of them it handles at once. */
export interface Consuming {
  prefetch: number;
  concurrency: number;
}

/** How often a failing handler's message is tried, and how long it waits between tries. */
export interface RetryPolicy {
  attempts: number;
  delaysMs: number[];
}

export type EventHandling = (envelope: Envelope, message: AsyncMessage) => Promise<'handled' | 'duplicate'>;

/**
 * The service's event consumers: durable handler queues with retries and parking (`consume`), and
 * the instance's own queues of live news (`listen`). Every delivery is checked against its contract
 * and its producer before a handler sees it.
 */
export class EventConsumers {
  constructor(
    private readonly link: BrokerLink,
    private readonly retry: RetryPolicy,
    /** For retry and parked copies; made by the broker's `declareTopology`. */
    private readonly publisher: () => ConfirmedPublisher,
  ) {}

  /**
   * Consumes one handler queue: a durable quorum queue with a delivery limit and a dead-letter
   * queue. `handle` resolves once its effect is committed; only then is the message acked. A
   * failing handler's message waits in a retry queue and comes back, with growing delays, until
   * it has failed `retry.attempts` times; then it is parked with the error.
   */
  consume({ queue, event }: HandlerQueue, options: Consuming, handle: EventHandling): Consumer {
    return this.link.connection.createConsumer(
      {
        queue,
        queueOptions: {
          queue,
          durable: true,
          arguments: {
            'x-queue-type': 'quorum',
            'x-delivery-limit': DELIVERY_LIMIT,
            'x-dead-letter-exchange': deadLetterExchange(this.link.service),
            'x-dead-letter-routing-key': queue,
            // What the broker dead-letters itself (past the delivery limit) stays in this queue
            // until the dead-letter queue confirms it, instead of being dropped on the way.
            'x-dead-letter-strategy': 'at-least-once',
            'x-overflow': 'reject-publish', // which at-least-once requires
          },
        },
        exchanges: [{ exchange: event.exchange, type: 'topic', durable: true }],
        queueBindings: [{ exchange: event.exchange, queue, routingKey: event.routingKey }],
        qos: { prefetchCount: options.prefetch },
        concurrency: options.concurrency,
        requeue: true,
      },
      (message) =>
        processingSpan(message, queue, SpanKind.CONSUMER, () => this.deliver(message, queue, event, handle)),
    );
  }

  /**
   * Listens to a `live` event on a queue of this instance's own: exclusive, classic, not durable,
   * deleted with the connection (and declared anew on every reconnect). Every instance gets every
   * event; what arrives while the instance is down is not for it. No acks, retries or inbox: the
   * listener only passes news on (an invalid message is logged and dropped).
   */
  listen({ queue, event }: HandlerQueue, handle: (envelope: Envelope) => void | Promise<void>): Consumer {
    const { log, senders } = this.link;
    return this.link.connection.createConsumer(
      {
        queue,
        queueOptions: { queue, durable: false, exclusive: true, autoDelete: true },
        exchanges: [{ exchange: event.exchange, type: 'topic', durable: true }],
        queueBindings: [{ exchange: event.exchange, queue, routingKey: event.routingKey }],
        noAck: true,
        qos: { prefetchCount: 100 },
      },
      (message) =>
        processingSpan(message, queue, SpanKind.CONSUMER, async () => {
          const problem = contractProblem(message, event) ?? senders.publisherProblem(message, event);
          if (problem) {
            log.warn({ queue, message_id: message.messageId, problem }, 'live event dropped');
            return;
          }
          try {
            await handle(message.body as Envelope);
          } catch (error) {
            log.warn({ queue, message_id: message.messageId, error }, 'live event listener failed');
          }
        }),
    );
  }

  private async deliver(
    message: AsyncMessage,
    queue: string,
    event: EventDefinition,
    handle: EventHandling,
  ): Promise<ConsumerStatus> {
    const started = performance.now();
    const handled = (outcome: string) => {
      const seconds = (performance.now() - started) / 1000;
      observe(this.link.metrics.messagesConsumed, { queue, outcome }, seconds);
      // in the message's span: the line carries its trace id
      this.link.log.debug(
        { queue, message_id: message.messageId, outcome, duration_ms: Math.round(seconds * 1000) },
        'message handled',
      );
    };
    const problem = this.link.senders.publisherProblem(message, event) ?? contractProblem(message, event);
    if (problem) {
      await this.park(queue, message, problem);
      handled('dead_lettered');
      return ConsumerStatus.ACK;
    }
    try {
      const result = await handle(message.body as Envelope, message);
      handled(result === 'duplicate' ? 'duplicate' : 'ack');
      return ConsumerStatus.ACK;
    } catch (error) {
      if (error instanceof PoisonMessageError) {
        await this.park(queue, message, error.message);
        handled('dead_lettered');
        return ConsumerStatus.ACK;
      }
      if (error instanceof ServiceStopping) {
        handled('requeued'); // not a failure of the message: it goes back as it came
        return ConsumerStatus.REQUEUE;
      }
      handled(await this.retryLater(queue, message, error as Error));
      return ConsumerStatus.ACK;
    }
  }

  /**
   * Puts a failed message in the retry queue of its attempt, or parks it after the last attempt.
   * If this publish fails the handler's error propagates and the broker requeues the message.
   */
  private async retryLater(
    queue: string,
    message: AsyncMessage,
    error: Error,
  ): Promise<'retry' | 'dead_lettered'> {
    const { attempts, delaysMs } = this.retry;
    const attempt = Number(message.headers?.['x-attempt'] ?? 0) + 1;
    if (attempt >= attempts) {
      await this.park(queue, message, `failed ${attempt} times; last error: ${error.message}`, {
        'x-attempts': attempt,
      });
      return 'dead_lettered';
    }
    const level = Math.min(attempt, delaysMs.length);
    const delay = Math.round((delaysMs[level - 1] ?? 1000) * (0.8 + Math.random() * 0.4));
    this.link.log.warn(
      {
        error,
        queue,
        message_id: message.messageId,
        attempt,
        retry_in_ms: delay,
        order_id: orderIdOf(message.body),
      },
      'handler failed; will retry',
    );
    await this.sendCopy(
      {
        ...forwardedProperties(message),
        exchange: '',
        routingKey: retryQueue(queue, level),
        expiration: String(delay),
        headers: {
          ...message.headers,
          ...this.link.senders.publisherHeader(message),
          'x-attempt': attempt,
          'x-last-error': error.message,
        },
      },
      message.body,
    );
    return 'retry';
  }

  /**
   * Sends a retry or parked copy of a delivery, which is acked only after this resolves: confirmed
   * and taken by a queue. A copy no queue took (its queue deleted) throws, and the delivery goes
   * back to its queue instead of being acked and lost. (A copy of a message that came without a
   * message id gets one, to match a return to it.)
   */
  private async sendCopy(envelope: AmqpEnvelope, body: MessageBody): Promise<void> {
    const messageId = envelope.messageId ?? randomUUID();
    const outcome = await this.publisher().send({ ...envelope, messageId, mandatory: true }, body);
    if (outcome === 'returned') {
      throw new Error(
        `no queue took the copy sent to ${envelope.exchange || '(default)'} ${envelope.routingKey}`,
      );
    }
  }

  /** Sends a message that can never succeed to its dead-letter queue with the reason attached. */
  private async park(
    queue: string,
    message: AsyncMessage,
    reason: string,
    extraHeaders: Record<string, unknown> = {},
  ): Promise<void> {
    this.link.log.error(
      { queue, message_id: message.messageId, reason },
      'message parked in the dead-letter queue',
    );
    await this.sendCopy(
      {
        ...forwardedProperties(message),
        exchange: deadLetterExchange(this.link.service),
        routingKey: queue,
        headers: {
          ...message.headers,
          ...this.link.senders.publisherHeader(message),
          ...extraHeaders,
          'x-death-reason': reason,
          'x-original-exchange': message.exchange,
          'x-original-routing-key': message.routingKey,
          'x-parked-at': new Date().toISOString(),
        },
      },
      message.body,
    );
  }
}

/** The properties a re-published copy keeps from the original delivery. */
function forwardedProperties(message: AsyncMessage) {
  return {
    messageId: message.messageId,
    correlationId: message.correlationId,
    type: message.type,
    contentType: message.contentType,
    appId: message.appId,
    timestamp: message.timestamp,
    durable: true,
  };
}

/** Why a delivery is not the event its queue takes (envelope and payload); none if it is. */
function contractProblem(message: AsyncMessage, event: EventDefinition): string | undefined {
  if (typeof message.body !== 'object' || message.body === null || Buffer.isBuffer(message.body)) {
    return 'body is not a JSON object';
  }
  const envelopeProblem = validateEnvelope(message.body);
  if (envelopeProblem) return `envelope: ${envelopeProblem}`;
  const envelope = message.body as Envelope;
  if (envelope.type !== event.name) return `expected a ${event.name}, got a ${envelope.type}`;
  const payloadProblem = event.validate(envelope.payload);
  return payloadProblem ? `payload: ${payloadProblem}` : undefined;
}

function orderIdOf(body: unknown): string | undefined {
  const payload = (body as { payload?: { orderId?: unknown } } | undefined)?.payload;
  return typeof payload?.orderId === 'string' ? payload.orderId : undefined;
}
