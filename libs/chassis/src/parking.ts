import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, type SyncMessage } from 'rabbitmq-client';
import { rabbitmqctl } from './broker-admin.ts';
import { deadLetterQueue } from './topology.ts';

// The parking lot (docs/architecture.md §3): messages a handler could never take wait in its dead-letter
// queue `<handler queue>.dlq` for a person to look at, then to replay once the cause is fixed, or
// to discard. `pnpm parked` (scripts/parked.ts) is the command line over this module.

const DLQ_SUFFIX = '.dlq';
/** How long `show` waits for the queue to take back what it showed. */
const RETURN_TIMEOUT_MS = 5000;

/** A parked message as a person reads it. */
export interface ParkedMessage {
  id: string | undefined;
  type: string | undefined;
  /** Why it was parked: the chassis' `x-death-reason`, or the broker's own dead-lettering reason. */
  reason: string | undefined;
  /** Runs of its handler that failed (absent when it was parked without running, e.g. invalid). */
  attempts: number | undefined;
  parkedAt: string | undefined;
  headers: Record<string, unknown>;
  body: unknown;
}

export interface ParkedQueue {
  /** The handler queue the messages were parked from (and are replayed to). */
  queue: string;
  deadLetterQueue: string;
  /** Messages parked there now (ready ones: not those another client is holding). */
  messages: number;
}

/** Headers of the retry and parking machinery: a replayed message starts again without them. */
const MACHINERY_HEADERS = [
  'x-attempt',
  'x-attempts',
  'x-last-error',
  'x-death-reason',
  'x-original-exchange',
  'x-original-routing-key',
  'x-parked-at',
  'x-death',
  'x-delivery-count',
  'x-acquired-count',
];
const isMachinery = (header: string) =>
  MACHINERY_HEADERS.includes(header) || /^x-(first|last)-death-/.test(header);

/** The handler queue a name stands for: the handler queue itself, or its dead-letter queue. */
export const handlerQueueOf = (name: string): string =>
  name.endsWith(DLQ_SUFFIX) ? name.slice(0, -DLQ_SUFFIX.length) : name;

/**
 * The handler queues that `names` pick out of the broker's queues (`all`): a handler or
 * dead-letter queue's name, or a service's name for every handler queue of that service
 * (`…--<service>.<handler>`); no names, every handler queue with a dead-letter queue.
 */
export function selectHandlerQueues(names: readonly string[], all: readonly string[]): string[] {
  const parked = all.filter((q) => q.endsWith(DLQ_SUFFIX)).map(handlerQueueOf);
  if (names.length === 0) return [...new Set(parked)].sort();
  const chosen = names.flatMap((name) => {
    if (name.startsWith('evt-')) return [handlerQueueOf(name)];
    const ofService = parked.filter((q) => q.includes(`--${name}.`));
    if (ofService.length === 0) throw new Error(`no handler queues of a service named "${name}"`);
    return ofService;
  });
  return [...new Set(chosen)].sort();
}

/** The vhost an AMQP URL names (`/` when it names none). */
export function vhostOf(amqpUrl: string): string {
  const path = new URL(amqpUrl).pathname.replace(/^\//, '');
  return path === '' ? '/' : decodeURIComponent(path);
}

/**
 * Every queue of the URL's vhost: from RabbitMQ's management API when `managementUrl` is given (a
 * broker in a container, compose's on 127.0.0.1:15672), as the user it names or else the AMQP URL's
 * (a service's own user may not use the API); otherwise from `rabbitmqctl list_queues` (the broker
 * on this machine).
 */
export async function listQueueNames(amqpUrl: string, managementUrl?: string): Promise<string[]> {
  if (managementUrl) {
    const api = new URL(managementUrl);
    const { username, password } = api.username ? api : new URL(amqpUrl);
    const user = `${decodeURIComponent(username || 'guest')}:${decodeURIComponent(password || 'guest')}`;
    api.username = '';
    api.password = '';
    const url = new URL(`api/queues/${encodeURIComponent(vhostOf(amqpUrl))}?columns=name`, api);
    const response = await fetch(url, {
      headers: { authorization: `Basic ${Buffer.from(user).toString('base64')}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`${url.origin} answered ${response.status} ${response.statusText}`);
    return ((await response.json()) as { name: string }[]).map((q) => q.name);
  }
  const { stdout } = await rabbitmqctl([
    '-q',
    'list_queues',
    '-p',
    vhostOf(amqpUrl),
    'name',
    'messages',
    '--formatter',
    'json',
  ]);
  return (JSON.parse(stdout) as { name: string }[]).map((q) => q.name);
}

/** Reads, replays and discards the messages parked in handler queues' dead-letter queues. */
export class ParkingLot {
  private constructor(
    private readonly connection: Connection,
    /** The broker user it connects as: a replayed message's `user_id`. */
    private readonly user: string,
  ) {}

  static async connect(amqpUrl: string, timeoutMs = 5000): Promise<ParkingLot> {
    const connection = new Connection({ url: amqpUrl, connectionName: 'parked-messages', retryLow: 200 });
    connection.on('error', () => undefined); // onConnect below reports a broker that is not there
    try {
      await connection.onConnect(timeoutMs, true);
    } catch (error) {
      await connection.close();
      throw error;
    }
    return new ParkingLot(connection, decodeURIComponent(new URL(amqpUrl).username) || 'guest');
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /** How many messages `queue` (a handler queue) has parked; undefined when it has no DLQ. */
  async count(queue: string): Promise<number | undefined> {
    return this.messagesIn(deadLetterQueue(handlerQueueOf(queue)));
  }

  async list(queues: readonly string[]): Promise<ParkedQueue[]> {
    const listed: ParkedQueue[] = [];
    for (const name of queues) {
      const queue = handlerQueueOf(name);
      const messages = await this.count(queue);
      if (messages !== undefined) listed.push({ queue, deadLetterQueue: deadLetterQueue(queue), messages });
    }
    return listed;
  }

  /**
   * The first `limit` parked messages, left where they were and in their order. Every message
   * there is taken unacknowledged, then all are handed back at once by closing the channel, which
   * returns them ahead of any parked meanwhile, in the order they were taken. (Taking only the
   * first few would not do: a quorum queue returns them behind others it already holds returned.)
   */
  async show(queue: string, limit: number): Promise<ParkedMessage[]> {
    const dlq = await this.existing(queue);
    const there = (await this.messagesIn(dlq)) ?? 0;
    const channel = await this.connection.acquire();
    const shown: ParkedMessage[] = [];
    let taken = 0;
    try {
      while (taken < there) {
        const message = await channel.basicGet({ queue: dlq, noAck: false });
        if (!message) break;
        taken++;
        if (shown.length < limit) shown.push(describe(message));
      }
    } finally {
      await channel.close(); // never acked: every message goes back
    }
    // The queue takes them back a moment after the channel has closed: leave it as it was found.
    const until = Date.now() + RETURN_TIMEOUT_MS;
    while (((await this.messagesIn(dlq)) ?? 0) < taken && Date.now() < until) await sleep(20);
    return shown;
  }

  /**
   * Moves up to `limit` parked messages (by default every one there when it starts, never those
   * parked meanwhile) back to their handler queue, through the default exchange, without the
   * retry and parking headers, so they get fresh attempts. Each is published with a confirm
   * before it leaves the dead-letter queue: none is lost, and they arrive in their order.
   *
   * With `publishedSince` (now less the service's INBOX_RETENTION_HOURS, less a margin), a
   * message first published before it, or whose publication time is unknown, stays parked: a copy
   * of it may have been handled, and its inbox row, which would make the replay a duplicate, may
   * be gone (README, Inbox retention). A person checks it against the service's state first.
   */
  async replay(queue: string, limit?: number, options: { publishedSince?: Date } = {}): Promise<number> {
    const handler = handlerQueueOf(queue);
    const dlq = await this.existing(handler);
    if ((await this.messagesIn(handler)) === undefined) {
      throw new Error(`no queue ${handler} to replay to: has its service declared its topology?`);
    }
    const since = options.publishedSince?.getTime();
    return this.drain(dlq, limit, async (channel, message) => {
      // the AMQP timestamp is in seconds: the relay's, from the outbox row's creation
      if (since !== undefined && !(message.timestamp !== undefined && message.timestamp * 1000 >= since)) {
        return false;
      }
      await channel.basicPublish(
        {
          exchange: '',
          routingKey: handler, // it exists (checked above): the default exchange delivers there
          durable: true,
          // The consumer believes the original publisher (header x-publisher, kept) only from its own
          // user: replay as the consuming service's broker user where each service has its own.
          userId: this.user,
          messageId: message.messageId,
          correlationId: message.correlationId,
          type: message.type,
          contentType: message.contentType,
          contentEncoding: message.contentEncoding,
          appId: message.appId,
          timestamp: message.timestamp,
          headers: Object.fromEntries(
            Object.entries(message.headers ?? {}).filter(([header]) => !isMachinery(header)),
          ),
        },
        message.body,
      );
      return true;
    });
  }

  /** Drops up to `limit` parked messages (by default every one there when it starts). */
  async discard(queue: string, limit?: number): Promise<number> {
    return this.drain(await this.existing(queue), limit, async () => true);
  }

  /**
   * Takes messages off `dlq` one at a time, acking each only once `move` has done its part; one
   * `move` declines (false) stays unacked, and goes back to the queue when the channel closes.
   */
  private async drain(
    dlq: string,
    limit: number | undefined,
    move: (channel: Awaited<ReturnType<Connection['acquire']>>, message: SyncMessage) => Promise<boolean>,
  ): Promise<number> {
    const there = (await this.messagesIn(dlq)) ?? 0;
    const most = Math.min(limit ?? there, there);
    const channel = await this.connection.acquire();
    let moved = 0;
    let taken = 0;
    try {
      await channel.confirmSelect();
      while (moved < most && taken < there) {
        const message = await channel.basicGet({ queue: dlq, noAck: false });
        if (!message) break;
        taken++;
        if (!(await move(channel, message))) continue;
        channel.basicAck({ deliveryTag: message.deliveryTag });
        moved++;
      }
    } finally {
      await channel.close();
    }
    return moved;
  }

  private async existing(queue: string): Promise<string> {
    const dlq = deadLetterQueue(handlerQueueOf(queue));
    if ((await this.messagesIn(dlq)) === undefined) throw new Error(`no dead-letter queue ${dlq}`);
    return dlq;
  }

  /** Ready messages in `queue`, or undefined when there is no such queue. */
  private async messagesIn(queue: string): Promise<number | undefined> {
    try {
      return (await this.connection.queueDeclare({ queue, passive: true })).messageCount;
    } catch (error) {
      if ((error as { code?: string }).code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }
}

function describe(message: SyncMessage): ParkedMessage {
  const headers = (message.headers ?? {}) as Record<string, unknown>;
  const deaths = headers['x-death'] as { reason?: string; count?: number }[] | undefined;
  const attempts = headers['x-attempts'] ?? headers['x-attempt'];
  return {
    id: message.messageId,
    type: message.type,
    reason:
      typeof headers['x-death-reason'] === 'string'
        ? headers['x-death-reason']
        : deaths?.[0]?.reason && `dead-lettered by the broker: ${deaths[0].reason}`,
    attempts: typeof attempts === 'number' ? attempts : undefined,
    parkedAt: typeof headers['x-parked-at'] === 'string' ? headers['x-parked-at'] : undefined,
    headers,
    body: Buffer.isBuffer(message.body) ? message.body.toString('utf8') : message.body,
  };
}
