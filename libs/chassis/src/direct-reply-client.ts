import { randomUUID } from 'node:crypto';
import type { AsyncMessage, Channel, Connection } from 'rabbitmq-client';
import { UpstreamUnavailable } from './call-guard.ts';
import { RPC_EXCHANGE } from './topology.ts';

interface RequestProperties {
  messageId: string;
  type: string;
  appId: string;
  headers: Record<string, unknown>;
  /** Per-message TTL (ms, as text): the broker drops the request if it waits longer in the queue. */
  expiration?: string;
}

interface PendingCall {
  queue: string;
  resolve: (message: AsyncMessage) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * RPC over direct reply-to (book ch.7 §7.3.1): one channel consumes `amq.rabbitmq.reply-to` and
 * publishes the requests, to the `rpc` exchange (routing key: the server's queue), never the default
 * one, stamped with the caller's broker user (`user_id`). Unlike rabbitmq-client's RPCClient, no request is published before the
 * reply consumer exists, even when hundreds of calls arrive while the channel is being (re)made.
 */
export class DirectReplyClient {
  private channel: Channel | undefined;
  private opening: Promise<Channel> | undefined;
  private readonly pending = new Map<string, PendingCall>();

  constructor(
    private readonly connection: Connection,
    /** The connection's broker user: every request's `user_id`. */
    private readonly user: string,
  ) {}

  /**
   * Publishes `body` to `queue` and resolves with the reply. Rejects with `UpstreamUnavailable`
   * (target `queue`) when no reply came within `timeoutMs` — which covers getting a channel too —
   * (`timeout`, with `timeoutDetail`), or when the request could not be delivered: no queue to
   * route it to, the channel closed, the publish failed (`network`). A reply, whatever it says,
   * resolves.
   */
  async call(
    queue: string,
    body: unknown,
    timeoutMs: number,
    properties: RequestProperties,
    timeoutDetail = `no reply within ${timeoutMs} ms`,
  ): Promise<AsyncMessage> {
    const correlationId = randomUUID();
    const unavailable = (reason: 'timeout' | 'network', detail: string, cause?: unknown) =>
      new UpstreamUnavailable(queue, reason, detail, undefined, cause === undefined ? undefined : { cause });
    const reply = new Promise<AsyncMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(unavailable('timeout', timeoutDetail));
      }, timeoutMs);
      this.pending.set(correlationId, { queue, resolve, reject, timer });
    });
    void this.send(queue, body, correlationId, properties).catch((error: unknown) =>
      this.resolvePending(correlationId, (call) =>
        call.reject(
          error instanceof UpstreamUnavailable
            ? error
            : unavailable('network', (error as Error)?.message ?? String(error), error),
        ),
      ),
    );
    return reply;
  }

  async close(): Promise<void> {
    await this.channel?.close();
    this.failAll('RPC client closed');
  }

  /** Publishes the request once there is a channel, unless its caller has given up meanwhile. */
  private async send(
    queue: string,
    body: unknown,
    correlationId: string,
    properties: RequestProperties,
  ): Promise<void> {
    const channel = await this.open();
    if (!this.pending.has(correlationId)) return;
    await channel.basicPublish(
      {
        exchange: RPC_EXCHANGE,
        routingKey: queue,
        userId: this.user,
        replyTo: 'amq.rabbitmq.reply-to',
        correlationId,
        contentType: 'application/json',
        mandatory: true,
        ...properties,
      },
      body as object,
    );
  }

  private open(): Promise<Channel> {
    if (this.channel?.active) return Promise.resolve(this.channel);
    this.opening ??= this.connect().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async connect(): Promise<Channel> {
    const channel = await this.connection.acquire();
    // Publishing to an exchange that does not exist closes the channel: declare it (the server does
    // too), so that a server not yet started is a request no queue takes, refused at once.
    await channel.exchangeDeclare({ exchange: RPC_EXCHANGE, type: 'topic', durable: true });
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
      this.failAll('RPC channel closed');
    });
    // No server queue to route to: fail now rather than at the timeout.
    channel.on('basic.return', (returned) => {
      if (returned.correlationId) {
        this.resolvePending(returned.correlationId, (call) =>
          call.reject(new UpstreamUnavailable(call.queue, 'network', `no queue ${returned.routingKey}`)),
        );
      }
    });
    await channel.basicConsume({ queue: 'amq.rabbitmq.reply-to', noAck: true }, (message) => {
      if (message.correlationId) this.resolvePending(message.correlationId, (call) => call.resolve(message));
    });
    this.channel = channel;
    return channel;
  }

  private resolvePending(correlationId: string, action: (call: PendingCall) => void): void {
    const call = this.pending.get(correlationId);
    if (!call) return;
    this.pending.delete(correlationId);
    clearTimeout(call.timer);
    action(call);
  }

  private failAll(why: string): void {
    for (const correlationId of [...this.pending.keys()])
      this.resolvePending(correlationId, (call) =>
        call.reject(new UpstreamUnavailable(call.queue, 'network', why)),
      );
  }
}
