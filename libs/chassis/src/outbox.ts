import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import type { Envelope, EventDefinition, PayloadOf } from '@simplebank/contracts';
import type { Tx } from './database.ts';

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
