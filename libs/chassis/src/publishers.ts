import type { Envelope as AmqpEnvelope, MessageBody, Publisher } from 'rabbitmq-client';

/**
 * Publishes with confirms, and tells a message the broker routed from one it returned. A
 * `mandatory` message no queue takes comes back as basic.return, and is then confirmed like any
 * other: a confirm alone does not say it went anywhere. Returns are matched to publishes by
 * `messageId` (two copies of one message in flight at once share their fate: they go to the same
 * place).
 */
export class ConfirmedPublisher {
  /** messageId → publishes in flight */
  private readonly inFlight = new Map<string, number>();
  private readonly returned = new Set<string>();

  constructor(
    private readonly publisher: Publisher,
    /** The connection's broker user, stamped as `user_id` on every message (the broker checks it). */
    private readonly user: string,
  ) {
    publisher.on('basic.return', (message) => {
      if (message.messageId && this.inFlight.has(message.messageId)) this.returned.add(message.messageId);
    });
  }

  /** Resolves once the broker confirmed it: `returned` when mandatory and no queue took it. */
  async send(
    envelope: AmqpEnvelope & { messageId: string },
    body: MessageBody,
  ): Promise<'confirmed' | 'returned'> {
    const id = envelope.messageId;
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
    try {
      await this.publisher.send({ ...envelope, userId: this.user }, body);
      // The broker sends basic.return before the confirm, but rabbitmq-client emits the return on a
      // later turn (setImmediate) than it resolves the confirm: let that turn come first.
      await new Promise((resolve) => setImmediate(resolve));
      return this.returned.has(id) ? 'returned' : 'confirmed';
    } finally {
      const left = (this.inFlight.get(id) ?? 1) - 1;
      if (left > 0) this.inFlight.set(id, left);
      else {
        this.inFlight.delete(id);
        this.returned.delete(id);
      }
    }
  }

  close(): Promise<void> {
    return this.publisher.close();
  }
}

/** Sends without confirms (live news), stamped with the connection's broker user like every message. */
export class LivePublisher {
  constructor(
    private readonly publisher: Publisher,
    private readonly user: string,
  ) {}

  send(envelope: AmqpEnvelope, body: MessageBody): Promise<void> {
    return this.publisher.send({ ...envelope, userId: this.user }, body);
  }

  close(): Promise<void> {
    return this.publisher.close();
  }
}
