import { type Pool, type Tx, transaction } from './database.ts';
import type { Worker } from './definition.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { OutboxBuffer, OutboxMessage } from './outbox.ts';
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

// The outbox's way out: the dispatcher sends what a transaction published once it has committed,
// the relay sweeps up what the dispatcher could not (outbox.ts writes the rows).

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
