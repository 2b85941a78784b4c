import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import { allEvents, type Envelope, type EventDefinition, type PayloadOf } from '@simplebank/contracts';
import pg from 'pg';
import { type Pool, type Tx, transaction } from './database.ts';
import type { Logger } from './logger.ts';
import type { ConfirmedPublisher } from './messaging.ts';
import type { Metrics } from './metrics.ts';
import { Poller } from './poller.ts';
import type { Worker } from './service.ts';
import {
  contextFromHeaders,
  failSpan,
  messagingAttributes,
  SpanKind,
  traceHeaders,
  tracer,
} from './tracing.ts';

/** Where a published event came from: the message or request being handled. */
export interface Cause {
  correlationId: string;
  causationId: string | null;
}

/** Writes an event to the outbox; `cause` overrides the transaction's, for work that spans sagas. */
export type Publish = <E extends EventDefinition>(
  event: E,
  payload: PayloadOf<E>,
  cause?: Cause,
) => Promise<void>;

/**
 * Returns the `publish` a handler gets: it writes the event to the outbox in the handler's own
 * transaction, so the event exists exactly when the state change that caused it does.
 */
export function outboxWriter(
  tx: Tx,
  source: string,
  cause: Cause,
  publishes: readonly EventDefinition[],
): Publish {
  return async (event, payload, eventCause = cause) => {
    // What a service publishes is declared (`publishes`), so docs/asyncapi.json can be held to it.
    if (!publishes.includes(event)) {
      throw new Error(`${source} publishes ${event.name} without declaring it in its service's publishes`);
    }
    const problem = event.validate(payload);
    if (problem) throw new Error(`${event.name} payload does not match its schema: ${problem}`);
    const envelope: Envelope = {
      id: randomUUID(),
      type: event.name,
      version: event.version,
      occurredAt: new Date().toISOString(),
      source,
      correlationId: eventCause.correlationId,
      causationId: eventCause.causationId,
      payload,
    };
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    // the relay's wake-up rides on the same statement: one round trip per event, not two
    await tx.query(
      `WITH written AS (
         INSERT INTO outbox (message_id, exchange, routing_key, type, correlation_id, traceparent, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id)
       SELECT pg_notify('outbox', '') FROM written`,
      [
        envelope.id,
        event.exchange,
        event.routingKey,
        event.name,
        eventCause.correlationId,
        carrier.traceparent ?? null,
        envelope,
      ],
    );
  };
}

const liveEvents = new Set(
  allEvents.filter((e) => e.delivery === 'live').map((e) => `${e.exchange} ${e.routingKey}`),
);

interface OutboxRow {
  id: number;
  message_id: string;
  exchange: string;
  routing_key: string;
  type: string;
  correlation_id: string;
  traceparent: string | null;
  body: Envelope;
  created_at: Date;
  returns: number;
}

export interface RelayOptions {
  batchSize: number;
  pollMs: number;
  /** Pause before relaying a returned event again: `firstMs`, doubling per return, up to `maxMs`. */
  returnedRetry: { firstMs: number; maxMs: number };
}

/**
 * Publishes committed outbox rows with publisher confirms and deletes a row only once the broker
 * confirmed it and a queue took it. A saga event the broker returns (no queue bound for it: a
 * consumer not deployed yet, a binding deleted) stays in the outbox and is relayed again after a
 * growing pause, until a queue takes it; meanwhile it shows in `outbox_pending_messages` and
 * `outbox_oldest_message_age_seconds`. Woken by LISTEN/NOTIFY, with polling as the fallback;
 * several relays share the work through `FOR UPDATE SKIP LOCKED`.
 */
export class OutboxRelay implements Worker {
  private listener: pg.Client | undefined;
  private stopped = false;
  private relistening = false;
  private readonly poller: Poller;

  constructor(
    private readonly pool: Pool,
    private readonly databaseUrl: string,
    private readonly publisher: ConfirmedPublisher,
    private readonly service: string,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly options: RelayOptions = {
      batchSize: 250,
      pollMs: 500,
      returnedRetry: { firstMs: 1000, maxMs: 60_000 },
    },
  ) {
    metrics.watchOutbox(pool); // outbox_pending_messages and outbox_oldest_message_age_seconds
    this.poller = new Poller(
      'relaying the outbox',
      options.pollMs,
      async () => (await this.relayBatch()) === options.batchSize,
      log,
    );
  }

  async start(): Promise<void> {
    await this.listen();
    this.poller.start();
  }

  /** Relays everything committed so far; resolves when the outbox is empty or the broker fails. */
  flush(): Promise<void> {
    return this.poller.settle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.poller.stop();
    await this.listener?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    // LISTEN needs a connection of its own, outside the pool.
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', () => this.poller.wake());
    client.on('error', (error) => {
      this.log.warn({ error }, 'outbox listener lost its connection; polling until it is back');
      this.listener = undefined;
      client.end().catch(() => undefined);
      this.listenAgainLater();
    });
    await client.connect();
    await client.query('LISTEN outbox');
    this.listener = client;
  }

  /** Keeps trying to LISTEN again, every second, for as long as the relay runs. */
  private listenAgainLater(): void {
    if (this.relistening || this.stopped) return;
    this.relistening = true;
    setTimeout(() => {
      this.relistening = false;
      this.listen().catch(() => this.listenAgainLater());
    }, 1000).unref();
  }

  private relayBatch(): Promise<number> {
    return transaction(this.pool, async (tx) => {
      const { rows } = await tx.query<OutboxRow>(
        `SELECT * FROM outbox WHERE relay_after IS NULL OR relay_after <= now()
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.options.batchSize],
      );
      if (rows.length === 0) return 0;
      // Sends on one channel go out in order; waiting on all confirms at once batches them.
      const outcomes = await Promise.all(rows.map((row) => this.send(row)));
      const sent = rows.filter((_, i) => outcomes[i] === 'confirmed').map((r) => r.id);
      const returned = rows.filter((_, i) => outcomes[i] === 'returned').map((r) => r.id);
      if (sent.length > 0) await tx.query('DELETE FROM outbox WHERE id = ANY($1)', [sent]);
      if (returned.length > 0) {
        const { firstMs, maxMs } = this.options.returnedRetry;
        await tx.query(
          `UPDATE outbox SET returns = returns + 1,
             relay_after = now() + least($2::float8, $3::float8 * 2 ^ returns) * interval '1 millisecond'
           WHERE id = ANY($1)`,
          [returned, maxMs, firstMs],
        );
      }
      return rows.length;
    });
  }

  /**
   * Publishes one row in a PRODUCER span whose parent is the context the row was written in (its
   * stored `traceparent`), not the relay's own: the consumers' spans are children of this one.
   */
  private async send(row: OutboxRow): Promise<'confirmed' | 'returned'> {
    const parent = contextFromHeaders({ traceparent: row.traceparent ?? undefined });
    const span = tracer.startSpan(
      `publish ${row.exchange}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: messagingAttributes({
          operation: 'publish',
          destination: row.exchange,
          routingKey: row.routing_key,
          messageId: row.message_id,
          correlationId: row.correlation_id,
          extra: { 'messaging.message.type': row.type },
        }),
      },
      parent,
    );
    try {
      const outcome = await this.publisher.send(
        {
          exchange: row.exchange,
          routingKey: row.routing_key,
          messageId: row.message_id,
          correlationId: row.correlation_id,
          type: row.type,
          appId: this.service,
          timestamp: Math.floor(row.created_at.getTime() / 1000),
          contentType: 'application/json',
          durable: true,
          // a saga event no queue takes is a fault; live news nobody is listening to is not
          mandatory: !liveEvents.has(`${row.exchange} ${row.routing_key}`),
          headers: traceHeaders(span, parent),
        },
        row.body,
      );
      this.metrics.messagesPublished.inc({ exchange: row.exchange, routing_key: row.routing_key, outcome });
      if (outcome === 'returned') {
        failSpan(span, new Error('returned: no queue takes it'));
        this.log.warn(
          {
            exchange: row.exchange,
            routing_key: row.routing_key,
            message_id: row.message_id,
            returns: row.returns + 1,
          },
          'no queue takes this event; it stays in the outbox and is relayed again later',
        );
      }
      return outcome;
    } catch (error) {
      this.metrics.messagesPublished.inc({
        exchange: row.exchange,
        routing_key: row.routing_key,
        outcome: 'failed',
      });
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  }
}
