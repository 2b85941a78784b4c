import { randomUUID } from 'node:crypto';
import type { Envelope, EventDefinition, PayloadOf } from '@simplebank/contracts';
import { Connection, type Consumer } from 'rabbitmq-client';
import { waitFor } from './wait-for.ts';

// Test helpers on the broker's side: publishing events as their producers would, and a probe that
// records what a service under test publishes.

/** Publishes an event as its producer would (envelope, properties), for consumer tests. */
export async function publishEvent<E extends EventDefinition>(
  amqpUrl: string,
  event: E,
  payload: PayloadOf<E>,
  overrides: Partial<Envelope> = {},
): Promise<Envelope> {
  const envelope: Envelope = {
    id: randomUUID(),
    type: event.name,
    version: event.version,
    occurredAt: new Date().toISOString(),
    source: event.source,
    correlationId: (payload as { orderId?: string }).orderId ?? randomUUID(),
    causationId: null,
    payload,
    ...overrides,
  };
  await publishRaw(amqpUrl, event.exchange, event.routingKey, envelope, {
    messageId: envelope.id,
    type: event.name,
  });
  return envelope;
}

/**
 * Publishes any body, valid or not, with confirms; as the chassis does, with `user_id` = the URL's
 * user unless `userId` says otherwise (`null`: none).
 */
export async function publishRaw(
  amqpUrl: string,
  exchange: string,
  routingKey: string,
  body: unknown,
  properties: {
    messageId?: string;
    type?: string;
    userId?: string | null;
    headers?: Record<string, unknown>;
    /** Declare the exchange first (default true; false to publish with a user who may not). */
    declare?: boolean;
  } = {},
): Promise<void> {
  const {
    userId = decodeURIComponent(new URL(amqpUrl).username) || 'guest',
    declare = true,
    ...rest
  } = properties;
  const connection = new Connection(amqpUrl);
  const publisher = connection.createPublisher({
    confirm: true,
    maxAttempts: 1,
    exchanges: declare && exchange !== '' ? [{ exchange, type: 'topic', durable: true }] : [],
  });
  try {
    await publisher.send(
      {
        exchange,
        routingKey,
        durable: true,
        contentType: 'application/json',
        ...rest,
        ...(userId === null ? {} : { userId }),
      },
      body as object,
    );
  } finally {
    await publisher.close();
    await connection.close();
  }
}

/** Records every event of the given kinds that reaches the broker, for producer tests. */
export class EventProbe {
  readonly received: Envelope[] = [];
  private constructor(
    private readonly connection: Connection,
    private readonly consumer: Consumer,
  ) {}

  static async start(amqpUrl: string, events: readonly EventDefinition[]): Promise<EventProbe> {
    const connection = new Connection(amqpUrl);
    connection.on('error', () => undefined); // it reconnects by itself
    const queue = `probe-${randomUUID()}`;
    let probe: EventProbe | undefined;
    const pending: Envelope[] = [];
    const consumer = connection.createConsumer(
      {
        queue,
        queueOptions: { queue, exclusive: true, autoDelete: true },
        exchanges: events.map((e) => ({ exchange: e.exchange, type: 'topic', durable: true })),
        queueBindings: events.map((e) => ({ exchange: e.exchange, queue, routingKey: e.routingKey })),
      },
      async (message) => {
        (probe?.received ?? pending).push(message.body as Envelope);
      },
    );
    await new Promise<void>((resolve, reject) => {
      consumer.once('ready', resolve);
      consumer.once('error', reject);
    });
    probe = new EventProbe(connection, consumer);
    probe.received.push(...pending);
    return probe;
  }

  /** Waits for an event of `event`'s kind matching `where`, and returns it. */
  async next<E extends EventDefinition>(
    event: E,
    where: (payload: PayloadOf<E>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<Envelope<PayloadOf<E>>> {
    return waitFor(
      `a ${event.name}`,
      () =>
        this.received.find((e) => e.type === event.name && where(e.payload as PayloadOf<E>)) as
          | Envelope<PayloadOf<E>>
          | undefined,
      { timeoutMs },
    );
  }

  async close(): Promise<void> {
    await this.consumer.close();
    await this.connection.close();
  }
}
