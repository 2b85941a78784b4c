import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import type { Envelope, EventDefinition, PayloadOf } from '@simplebank/contracts';
import { type Pool, type Tx, transaction } from './database.ts';
import type { Worker } from './definition.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { Poller } from './poller.ts';
import type { ConfirmedPublisher, LivePublisher } from './publishers.ts';
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

/** An event on its way out: an outbox row, or live news published once the transaction commits. */
export interface OutboxMessage {
  /** The outbox row's id, once written (`OutboxBuffer.write`). */
  id?: number;
  messageId: string;
  exchange: string;
  routingKey: string;
  type: string;
  correlationId: string;
  traceparent: string | null;
  /** The envelope as JSON: serialised once, stored and published as it is. */
  body: string;
  createdAt: Date;
  /** Times the broker returned it so far (no queue took it). */
  returns: number;
}

/**
 * The events one transaction publishes. Saga events become outbox rows, written in one statement
 * just before the commit (`write`), so they exist exactly when the state change that caused them
 * does. Live news (`delivery: 'live'`, lossy by contract: docs/saga.md) gets no row: it is sent
 * once the transaction has committed, without a confirm.
 */
export class OutboxBuffer {
  readonly saga: OutboxMessage[] = [];
  readonly live: OutboxMessage[] = [];

  constructor(
    private readonly source: string,
    private readonly publishes: readonly EventDefinition[],
  ) {}

  /** The `publish` of a handler or RPC method, whose events are caused by `cause`. */
  publisher(cause: Cause): Publish {
    return async (event, payload, eventCause = cause) => {
      // What a service publishes is declared (`publishes`), so docs/asyncapi.json can be held to it.
      if (!this.publishes.includes(event)) {
        throw new Error(
          `${this.source} publishes ${event.name} without declaring it in its service's publishes`,
        );
      }
      const problem = event.validate(payload);
      if (problem) throw new Error(`${event.name} payload does not match its schema: ${problem}`);
      const now = new Date();
      const envelope: Envelope = {
        id: randomUUID(),
        type: event.name,
        version: event.version,
        occurredAt: now.toISOString(),
        source: this.source,
        correlationId: eventCause.correlationId,
        causationId: eventCause.causationId,
        payload,
      };
      // the context it was published in: the PRODUCER span's parent, wherever it is sent from
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      (event.delivery === 'live' ? this.live : this.saga).push({
        messageId: envelope.id,
        exchange: event.exchange,
        routingKey: event.routingKey,
        type: event.name,
        correlationId: eventCause.correlationId,
        traceparent: carrier.traceparent ?? null,
        body: JSON.stringify(envelope),
        createdAt: now,
        returns: 0,
      });
    };
  }

  /** Inserts the saga events as outbox rows, in one statement, in the transaction `tx`. */
  async write(tx: Tx): Promise<void> {
    if (this.saga.length === 0) return;
    const column = <K extends keyof OutboxMessage>(key: K) => this.saga.map((m) => m[key]);
    const { rows } = await tx.query<{ id: number; message_id: string }>(
      `INSERT INTO outbox (message_id, exchange, routing_key, type, correlation_id, traceparent, body)
       SELECT m, e, r, t, c, p, b::jsonb
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         AS u(m, e, r, t, c, p, b)
       RETURNING id, message_id`,
      [
        column('messageId'),
        column('exchange'),
        column('routingKey'),
        column('type'),
        column('correlationId'),
        column('traceparent'),
        column('body'),
      ],
    );
    const ids = new Map(rows.map((r) => [r.message_id, r.id]));
    for (const message of this.saga) message.id = ids.get(message.messageId);
  }
}

export interface RelayOptions {
  /** Rows the sweeper takes per pass. */
  batchSize: number;
  /** How often the sweeper looks for rows left behind. */
  pollMs: number;
  /** A row this old is the sweeper's: its dispatcher crashed, or the broker was away. */
  sweepAfterMs: number;
  /** Pause before relaying a returned event again: `firstMs`, doubling per return, up to `maxMs`. */
  returnedRetry: { firstMs: number; maxMs: number };
}

export const DEFAULT_RELAY_OPTIONS: RelayOptions = {
  batchSize: 250,
  pollMs: 1000,
  sweepAfterMs: 5000,
  returnedRetry: { firstMs: 1000, maxMs: 60_000 },
};

interface OutboxRow {
  id: number;
  message_id: string;
  exchange: string;
  routing_key: string;
  type: string;
  correlation_id: string;
  traceparent: string | null;
  body: string;
  created_at: Date;
  returns: number;
}

const messageOf = (row: OutboxRow): OutboxMessage => ({
  id: row.id,
  messageId: row.message_id,
  exchange: row.exchange,
  routingKey: row.routing_key,
  type: row.type,
  correlationId: row.correlation_id,
  traceparent: row.traceparent,
  body: row.body,
  createdAt: row.created_at,
  returns: row.returns,
});

/**
 * Sends what a transaction published, once it has committed (the NServiceBus and MassTransit
 * outbox: no relay pass, no NOTIFY per event). Saga events go with publisher confirms, and their
 * rows are deleted once confirmed and taken by a queue, many at once. A saga event the broker
 * returns (no queue bound for it: a consumer not deployed yet, a binding deleted) stays in the
 * outbox and is relayed again after a growing pause, until a queue takes it; meanwhile it shows
 * in `outbox_pending_messages` and `outbox_oldest_message_age_seconds`. What could not be sent
 * (broker away, process killed after the commit) stays too: the `OutboxRelay` sweeps it up.
 */
export class OutboxDispatcher {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly confirmed: number[] = [];
  private deleting: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly publisher: ConfirmedPublisher,
    /** Live news: no confirms, nothing kept. */
    private readonly livePublisher: Pick<LivePublisher, 'send'>,
    private readonly service: string,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly returnedRetry = DEFAULT_RELAY_OPTIONS.returnedRetry,
  ) {}

  /** Sends a committed transaction's events; returns at once (`drain` waits for them). */
  dispatch(buffer: OutboxBuffer): void {
    for (const message of buffer.live) this.sendLive(message);
    const rows = buffer.saga.filter((m) => m.id !== undefined);
    if (rows.length === 0) return;
    const sending = this.sendAll(rows)
      .then((outcomes) => this.recordOutcomes(rows, outcomes))
      .catch((error: unknown) => {
        // the rows stay in the outbox: the sweeper sends them once the broker is back
        this.log.warn({ error, events: rows.length }, 'events not sent after commit; the relay will');
      })
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  /**
   * Publishes rows (sends on one channel go out in order; waiting on all confirms at once
   * batches them), each in a PRODUCER span whose parent is the context that published it.
   */
  sendAll(rows: readonly OutboxMessage[]): Promise<('confirmed' | 'returned')[]> {
    return Promise.all(rows.map((row) => this.send(row)));
  }

  /** Deletes what was confirmed; keeps what came back, to relay again after a pause. */
  async recordOutcomes(
    rows: readonly OutboxMessage[],
    outcomes: readonly ('confirmed' | 'returned')[],
    tx?: Tx,
  ): Promise<void> {
    const sent = rows.filter((_, i) => outcomes[i] === 'confirmed').map((r) => r.id as number);
    const returned = rows.filter((_, i) => outcomes[i] === 'returned').map((r) => r.id as number);
    if (returned.length > 0) {
      const { firstMs, maxMs } = this.returnedRetry;
      await (tx ?? this.pool).query(
        `UPDATE outbox SET returns = returns + 1,
           relay_after = now() + least($2::float8, $3::float8 * 2 ^ returns) * interval '1 millisecond'
         WHERE id = ANY($1)`,
        [returned, maxMs, firstMs],
      );
    }
    if (tx) {
      if (sent.length > 0) await tx.query('DELETE FROM outbox WHERE id = ANY($1)', [sent]);
      return;
    }
    this.confirmed.push(...sent);
    await this.deleteConfirmed();
  }

  /** Resolves once every dispatch so far has been sent and its rows deleted. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    while (this.deleting) await this.deleting;
  }

  /** One DELETE for every row confirmed while the last one ran. */
  private deleteConfirmed(): Promise<void> {
    if (this.deleting || this.confirmed.length === 0) return this.deleting ?? Promise.resolve();
    const deleting = (async () => {
      while (this.confirmed.length > 0) {
        const ids = this.confirmed.splice(0);
        await this.pool.query('DELETE FROM outbox WHERE id = ANY($1)', [ids]).catch((error: unknown) => {
          // sent already: the sweeper sends them again and the consumers' inboxes drop the copies
          this.log.warn({ error, events: ids.length }, 'sent events not deleted from the outbox');
        });
      }
    })().finally(() => {
      this.deleting = undefined;
    });
    this.deleting = deleting;
    return deleting;
  }

  private sendLive(message: OutboxMessage): void {
    this.livePublisher.send(this.envelopeOf(message, false, {}), Buffer.from(message.body)).then(
      () => this.metrics.messagesPublished.inc({ ...this.labelsOf(message), outcome: 'sent' }),
      () => this.metrics.messagesPublished.inc({ ...this.labelsOf(message), outcome: 'failed' }),
    );
  }

  private labelsOf(message: OutboxMessage) {
    return { exchange: message.exchange, routing_key: message.routingKey };
  }

  private envelopeOf(message: OutboxMessage, mandatory: boolean, headers: Record<string, unknown>) {
    return {
      exchange: message.exchange,
      routingKey: message.routingKey,
      messageId: message.messageId,
      correlationId: message.correlationId,
      type: message.type,
      appId: this.service,
      timestamp: Math.floor(message.createdAt.getTime() / 1000),
      contentType: 'application/json',
      durable: true,
      mandatory,
      headers,
    };
  }

  private async send(message: OutboxMessage): Promise<'confirmed' | 'returned'> {
    const parent = contextFromHeaders({ traceparent: message.traceparent ?? undefined });
    const span = tracer.startSpan(
      `publish ${message.exchange}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: messagingAttributes({
          operation: 'publish',
          destination: message.exchange,
          routingKey: message.routingKey,
          messageId: message.messageId,
          correlationId: message.correlationId,
          extra: { 'messaging.message.type': message.type },
        }),
      },
      parent,
    );
    try {
      // a saga event no queue takes is a fault: mandatory, so the broker says so
      const outcome = await this.publisher.send(
        this.envelopeOf(message, true, traceHeaders(span, parent)),
        Buffer.from(message.body),
      );
      this.metrics.messagesPublished.inc({ ...this.labelsOf(message), outcome });
      if (outcome === 'returned') {
        failSpan(span, new Error('returned: no queue takes it'));
        this.log.warn(
          {
            exchange: message.exchange,
            routing_key: message.routingKey,
            message_id: message.messageId,
            returns: message.returns + 1,
          },
          'no queue takes this event; it stays in the outbox and is relayed again later',
        );
      }
      return outcome;
    } catch (error) {
      this.metrics.messagesPublished.inc({ ...this.labelsOf(message), outcome: 'failed' });
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  }
}

/**
 * Sweeps up the outbox rows the dispatcher left behind: those of a process killed between its
 * commit and its confirms, those written while the broker was away, and returned events whose
 * pause is over. A row is the sweeper's once it is `sweepAfterMs` old, so it does not race the
 * dispatcher for what is on its way (a copy sent twice is dropped by the consumers' inboxes).
 * Several relays share the work through `FOR UPDATE SKIP LOCKED`.
 */
export class OutboxRelay implements Worker {
  private readonly poller: Poller;
  /** While stopping: every row is the sweeper's, however young. */
  private sweepAll = false;

  constructor(
    private readonly pool: Pool,
    private readonly dispatcher: OutboxDispatcher,
    log: Logger,
    metrics: Metrics,
    private readonly options: RelayOptions = DEFAULT_RELAY_OPTIONS,
  ) {
    metrics.watchOutbox(pool); // outbox_pending_messages and outbox_oldest_message_age_seconds
    this.poller = new Poller(
      'relaying the outbox',
      options.pollMs,
      async () => (await this.relayBatch()) === options.batchSize,
      log,
    );
  }

  start(): void {
    this.poller.start();
  }

  /** Sends everything committed so far; resolves when the outbox is empty or the broker fails. */
  async flush(): Promise<void> {
    await this.dispatcher.drain();
    this.sweepAll = true;
    await this.poller.runUntilIdle();
  }

  async stop(): Promise<void> {
    await this.poller.stop();
  }

  private relayBatch(): Promise<number> {
    return transaction(this.pool, async (tx) => {
      const { rows } = await tx.query<OutboxRow>(
        `SELECT id, message_id, exchange, routing_key, type, correlation_id, traceparent,
                body::text AS body, created_at, returns
         FROM outbox
         WHERE CASE WHEN relay_after IS NULL THEN created_at <= now() - $2 * interval '1 millisecond'
                    ELSE relay_after <= now() END
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.options.batchSize, this.sweepAll ? 0 : this.options.sweepAfterMs],
      );
      if (rows.length === 0) return 0;
      const messages = rows.map(messageOf);
      await this.dispatcher.recordOutcomes(messages, await this.dispatcher.sendAll(messages), tx);
      return rows.length;
    });
  }
}
