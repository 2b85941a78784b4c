import { randomUUID } from 'node:crypto';
import type { AsyncMessage, Channel, Connection } from 'rabbitmq-client';

interface PendingCall {
  resolve: (message: AsyncMessage) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * RPC over direct reply-to (book ch.7 §7.3.1): one channel consumes `amq.rabbitmq.reply-to` and
 * publishes the requests. Unlike rabbitmq-client's RPCClient, no request is published before the
 * reply consumer exists, even when hundreds of calls arrive while the channel is being (re)made.
 */
export class DirectReplyClient {
  private channel: Channel | undefined;
  private opening: Promise<Channel> | undefined;
  private readonly pending = new Map<string, PendingCall>();

  constructor(private readonly connection: Connection) {}

  /** Publishes `body` to `queue` and resolves with the reply, or rejects after `timeoutMs`. */
  async call(
    queue: string,
    body: unknown,
    timeoutMs: number,
    properties: { messageId: string; type: string; appId: string; headers: Record<string, unknown> },
  ): Promise<AsyncMessage> {
    const channel = await this.open();
    const correlationId = randomUUID();
    const reply = new Promise<AsyncMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
    });
    try {
      await channel.basicPublish(
        {
          routingKey: queue,
          replyTo: 'amq.rabbitmq.reply-to',
          correlationId,
          contentType: 'application/json',
          mandatory: true,
          ...properties,
        },
        body as object,
      );
    } catch (error) {
      this.settle(correlationId, (call) => call.reject(error as Error));
    }
    return reply;
  }

  async close(): Promise<void> {
    await this.channel?.close();
    this.failAll(new Error('RPC client closed'));
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
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
      this.failAll(new Error('RPC channel closed'));
    });
    // No server queue to route to: fail now rather than at the timeout.
    channel.on('basic.return', (returned) => {
      if (returned.correlationId) {
        this.settle(returned.correlationId, (call) =>
          call.reject(new Error(`no queue ${returned.routingKey}`)),
        );
      }
    });
    await channel.basicConsume({ queue: 'amq.rabbitmq.reply-to', noAck: true }, (message) => {
      if (message.correlationId) this.settle(message.correlationId, (call) => call.resolve(message));
    });
    this.channel = channel;
    return channel;
  }

  private settle(correlationId: string, action: (call: PendingCall) => void): void {
    const call = this.pending.get(correlationId);
    if (!call) return;
    this.pending.delete(correlationId);
    clearTimeout(call.timer);
    action(call);
  }

  private failAll(error: Error): void {
    for (const correlationId of [...this.pending.keys()])
      this.settle(correlationId, (call) => call.reject(error));
  }
}
