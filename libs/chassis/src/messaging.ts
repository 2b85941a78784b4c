import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import { type Envelope, type EventDefinition, type RpcReply, validateEnvelope } from '@simplebank/contracts';
import {
  type Envelope as AmqpEnvelope,
  type AsyncMessage,
  Connection,
  type Consumer,
  ConsumerStatus,
  type MessageBody,
  type Publisher,
  type PublisherProps,
} from 'rabbitmq-client';
import { type BreakerOptions, type BreakerState, CallGuard, UpstreamUnavailable } from './call-guard.ts';
import { ServiceStopping } from './database-gate.ts';
import { BUDGET_HEADER, deadlineFromBudget } from './http.ts';
import type { Logger } from './logger.ts';
import { type Metrics, observe } from './metrics.ts';
import { DirectReplyClient } from './rpc-client.ts';
import {
  DELIVERY_LIMIT,
  deadLetterExchange,
  deadLetterQueue,
  RPC_EXCHANGE,
  retryQueue,
  rpcQueue,
  rpcRoutes,
} from './topology.ts';
import {
  contextFromHeaders,
  failSpan,
  inSpan,
  messagingAttributes,
  SpanKind,
  traceHeaders,
  tracer,
} from './tracing.ts';

export type { AsyncMessage };

/**
 * On a copy a service sends itself (retry, parking): the broker user of the original's publisher.
 * Believed only on a message whose `user_id` is the consuming service's own.
 */
export const PUBLISHER_HEADER = 'x-publisher';
export { ConsumerStatus };

/** The handler said the message can never succeed: park it now instead of retrying. */
export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
}

export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly code: string,
    message: string,
    /** `cause`: the chassis' `UpstreamUnavailable` when the call got no reply. */
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface RpcCallOptions {
  /** The saga's correlation id (e.g. the order id); the request's message id otherwise. */
  correlationId?: string;
  /**
   * A repeat changes nothing (the params carry what makes it so, e.g. a caller-chosen order id):
   * the call is tried again, with exponential back-off and jitter, after a timeout or a request
   * that could not be delivered. Never after a reply, whatever it says.
   */
  idempotent?: boolean;
  /** Attempts after the first, idempotent calls only. Default: the broker's (2). */
  retries?: number;
  /**
   * Each attempt gives up after this long. Default: the whole `timeoutMs` for a call that is not
   * idempotent; for an idempotent one, `timeoutMs` shared out evenly over its attempts, so that a
   * retry after a timeout still fits.
   */
  attemptTimeoutMs?: number;
  /** When the caller stops waiting (epoch ms), if sooner than `timeoutMs` from now. */
  deadline?: number;
}

/** The synchronous-call settings of RPC calls, per target (`rpc-<service>`). */
export interface RpcClientOptions {
  /** Attempts after the first, for idempotent calls only. Default 2. */
  retries?: number;
  backoff?: { baseMs?: number; maxMs?: number };
  breaker?: BreakerOptions;
  /** Uniform in [0, 1); for tests. */
  random?: () => number;
}

/** Messages a consumer holds unacked (`prefetch`), and how many of them it handles at once. */
export interface Consuming {
  prefetch: number;
  concurrency: number;
}

export interface HandlerQueue {
  queue: string;
  event: EventDefinition;
}

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

/** The broker user an AMQP URL connects as (AMQP's default: guest). */
export function brokerUserOf(url: string): string {
  return decodeURIComponent(new URL(url).username) || 'guest';
}

/**
 * Whom `source`'s events must come from, as a broker user. `template` (AMQP_PUBLISHER_USERS) is a
 * user name in which `{service}` stands for the producer's name. Without one, the consuming service's
 * own user tells the scheme: a user named after the service (`market`, or `<prefix>.market`) means
 * every service has its own, named alike; any other (guest in development) is shared by all.
 */
export function publisherUser(
  source: string,
  { service, user, template }: { service: string; user: string; template?: string | undefined },
): string {
  if (template) return template.replaceAll('{service}', source);
  if (user === service) return source;
  if (user.endsWith(`.${service}`)) return `${user.slice(0, -service.length)}${source}`;
  return user;
}

/**
 * The service's RabbitMQ connection and what it declares (docs/architecture.md §3). rabbitmq-client
 * reconnects on its own and re-declares the topology and consumers on every reconnect.
 */
export class Broker {
  readonly connection: Connection;
  /** Made by `declareTopology`, which knows the handler queues whose topology they re-declare. */
  private publishers: { confirmed: ConfirmedPublisher; live: LivePublisher } | undefined;
  /** The broker user this service connects as: the `user_id` of everything it publishes. */
  readonly user: string;
  private readonly consumers: Consumer[] = [];
  private rpcClient: DirectReplyClient | undefined;
  /** One circuit breaker per RPC target, made at its first call. */
  private readonly rpcTargets = new Map<string, CallGuard>();
  private readyConsumers = new Set<Consumer>();
  private readonly exchanges: Required<PublisherProps>['exchanges'];

  constructor(
    url: string,
    private readonly service: string,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly options: {
      publishes: EventDefinition[];
      retry: { attempts: number; delaysMs: number[] };
      /** Retries, back-off and circuit breakers of `call`; the chassis defaults otherwise. */
      rpc?: RpcClientOptions;
      /** AMQP heartbeat (s); the library's default (60) otherwise. */
      heartbeatSeconds?: number;
      /** The producers' broker users (`publisherUser`): `{service}` stands for the producer. */
      publisherUsers?: string | undefined;
    },
  ) {
    this.user = brokerUserOf(url);
    this.connection = new Connection({
      url,
      connectionName: service,
      retryLow: 200,
      retryHigh: 5000,
      ...(options.heartbeatSeconds === undefined ? {} : { heartbeat: options.heartbeatSeconds }),
    });
    this.connection.on('error', (error) => log.warn({ error }, 'RabbitMQ connection error'));
    this.connection.on('connection', () => log.info('RabbitMQ connected'));
    const dlx = deadLetterExchange(service);
    this.exchanges = [
      ...[...new Set(options.publishes.map((e) => e.exchange))].map((exchange) => ({
        exchange,
        type: 'topic',
        durable: true,
      })),
      { exchange: dlx, type: 'direct', durable: true },
    ];
  }

  get publisher(): ConfirmedPublisher {
    return this.declared().confirmed;
  }

  /** For live news: no confirms (it is lossy by contract, and nobody may be listening). */
  get livePublisher(): LivePublisher {
    return this.declared().live;
  }

  private declared(): { confirmed: ConfirmedPublisher; live: LivePublisher } {
    if (!this.publishers) throw new Error(`${this.service}: publishing before declareTopology`);
    return this.publishers;
  }

  /**
   * Declares the exchanges, and each handler queue's dead-letter and retry queues, now; the
   * publisher re-declares them on reconnect. Publishing works from here on.
   */
  async declareTopology(timeoutMs: number, handlerQueues: HandlerQueue[] = []): Promise<void> {
    const dlx = deadLetterExchange(this.service);
    const topology: Required<Pick<PublisherProps, 'exchanges' | 'queues' | 'queueBindings'>> = {
      exchanges: this.exchanges,
      queues: handlerQueues.flatMap(({ queue }) => [
        { queue: deadLetterQueue(queue), durable: true, arguments: { 'x-queue-type': 'quorum' } },
        // Classic queues: messages carry their own expiry, then go back to the handler queue.
        ...this.options.retry.delaysMs.map((_, i) => ({
          queue: retryQueue(queue, i + 1),
          durable: true,
          arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queue },
        })),
      ]),
      queueBindings: handlerQueues.map(({ queue }) => ({
        exchange: dlx,
        queue: deadLetterQueue(queue),
        routingKey: queue,
      })),
    };
    this.publishers = {
      confirmed: new ConfirmedPublisher(
        this.connection.createPublisher({ confirm: true, ...topology }),
        this.user,
      ),
      live: new LivePublisher(this.connection.createPublisher({ confirm: false }), this.user),
    };
    await this.connection.onConnect(timeoutMs, true);
    for (const exchange of topology.exchanges) await this.connection.exchangeDeclare(exchange);
    for (const queue of topology.queues) await this.connection.queueDeclare(queue);
    for (const binding of topology.queueBindings) await this.connection.queueBind(binding);
  }

  /**
   * Consumes one handler queue: a durable quorum queue with a delivery limit and a dead-letter
   * queue. `handle` resolves once its effect is committed; only then is the message acked. A
   * failing handler's message waits in a retry queue and comes back, with growing delays, until
   * it has failed `retry.attempts` times; then it is parked with the error.
   */
  consume(
    { queue, event }: HandlerQueue,
    options: Consuming,
    handle: (envelope: Envelope, message: AsyncMessage) => Promise<'handled' | 'duplicate'>,
  ): Consumer {
    const consumer = this.connection.createConsumer(
      {
        queue,
        queueOptions: {
          queue,
          durable: true,
          arguments: {
            'x-queue-type': 'quorum',
            'x-delivery-limit': DELIVERY_LIMIT,
            'x-dead-letter-exchange': deadLetterExchange(this.service),
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
        this.processSpan(message, queue, SpanKind.CONSUMER, () =>
          this.deliver(message, queue, event, handle),
        ),
    );
    this.track(consumer, queue);
    return consumer;
  }

  /**
   * Listens to a `live` event on a queue of this instance's own: exclusive, classic, not durable,
   * deleted with the connection (and declared anew on every reconnect). Every instance gets every
   * event; what arrives while the instance is down is not for it. No acks, retries or inbox: the
   * listener only passes news on (an invalid message is logged and dropped).
   */
  listen({ queue, event }: HandlerQueue, handle: (envelope: Envelope) => void | Promise<void>): Consumer {
    const consumer = this.connection.createConsumer(
      {
        queue,
        queueOptions: { queue, durable: false, exclusive: true, autoDelete: true },
        exchanges: [{ exchange: event.exchange, type: 'topic', durable: true }],
        queueBindings: [{ exchange: event.exchange, queue, routingKey: event.routingKey }],
        noAck: true,
        qos: { prefetchCount: 100 },
      },
      (message) =>
        this.processSpan(message, queue, SpanKind.CONSUMER, async () => {
          const problem = validateMessage(message, event) ?? this.publisherProblem(message, event);
          if (problem) {
            this.log.warn({ queue, message_id: message.messageId, problem }, 'live event dropped');
            return;
          }
          try {
            await handle(message.body as Envelope);
          } catch (error) {
            this.log.warn({ queue, message_id: message.messageId, error }, 'live event listener failed');
          }
        }),
    );
    this.track(consumer, queue);
    return consumer;
  }

  /**
   * Runs the handling of `message` in a span whose parent is the context of its `traceparent`
   * header: CONSUMER for an event (child of the relay's PRODUCER span), SERVER for an RPC request
   * (child of the caller's CLIENT span). Logs, queries and the events it publishes join its trace.
   */
  private processSpan<T>(
    message: AsyncMessage,
    queue: string,
    kind: SpanKind,
    work: () => Promise<T>,
  ): Promise<T> {
    const parent = contextFromHeaders(message.headers);
    const rpc = kind === SpanKind.SERVER;
    const span = tracer.startSpan(
      rpc ? `${queue} ${String(message.type)}` : `process ${message.exchange || queue}`,
      {
        kind,
        attributes: messagingAttributes({
          operation: 'process',
          destination: message.exchange || queue,
          routingKey: message.routingKey,
          messageId: message.messageId,
          correlationId: message.correlationId,
          extra: {
            'messaging.destination.subscription.name': queue,
            ...(message.type ? { 'messaging.message.type': message.type } : {}),
            ...(rpc ? { 'rpc.system': 'rabbitmq', 'rpc.method': String(message.type) } : {}),
          },
        }),
      },
      parent,
    );
    return inSpan(span, parent, work);
  }

  private async deliver(
    message: AsyncMessage,
    queue: string,
    event: EventDefinition,
    handle: (envelope: Envelope, message: AsyncMessage) => Promise<'handled' | 'duplicate'>,
  ): Promise<ConsumerStatus> {
    const started = performance.now();
    const handled = (outcome: string) => {
      const seconds = (performance.now() - started) / 1000;
      observe(this.metrics.messagesConsumed, { queue, outcome }, seconds);
      // in the message's span: the line carries its trace id
      this.log.debug(
        { queue, message_id: message.messageId, outcome, duration_ms: Math.round(seconds * 1000) },
        'message handled',
      );
    };
    const problem = this.publisherProblem(message, event) ?? validateMessage(message, event);
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
   * Who published a delivery, as the broker vouches for it: its `user_id` (which the broker checks
   * against the publishing connection's user). A copy this service made itself (a retry, a parked
   * message replayed as this service) carries its own user, and the original's in `x-publisher`.
   */
  private publisherOf(message: AsyncMessage): string | undefined {
    if (message.userId !== undefined && message.userId === this.user) {
      const original = message.headers?.[PUBLISHER_HEADER];
      if (typeof original === 'string') return original;
    }
    return message.userId;
  }

  /** Why an event did not come from its declared producer (contracts' `source`); none if it did. */
  private publisherProblem(message: AsyncMessage, event: EventDefinition): string | undefined {
    const expected = publisherUser(event.source, {
      service: this.service,
      user: this.user,
      template: this.options.publisherUsers,
    });
    const publisher = this.publisherOf(message);
    if (publisher === expected) return undefined;
    return publisher === undefined
      ? `publisher: no user_id; a ${event.name} comes from ${event.source} (broker user ${expected})`
      : `publisher: broker user ${publisher} may not publish a ${event.name}; it comes from ${event.source} (broker user ${expected})`;
  }

  /**
   * Why a request's sender may not call this service: only the clients the contracts name
   * (`rpcRoutes`), by their broker user. A service no route names (a test fixture) takes any caller.
   */
  private callerProblem(message: AsyncMessage): string | undefined {
    const clients = rpcRoutes.filter((r) => r.server === this.service).map((r) => r.client);
    if (clients.length === 0) return undefined;
    const allowed = clients.map((client) =>
      publisherUser(client, {
        service: this.service,
        user: this.user,
        template: this.options.publisherUsers,
      }),
    );
    if (message.userId !== undefined && allowed.includes(message.userId)) return undefined;
    return `broker user ${message.userId ?? '(none)'} may not call ${this.service}`;
  }

  /** Serves `rpc-<service>`: each request `{ method, params }` gets a `RpcReply`. */
  serveRpc(
    options: Consuming,
    /** `deadline`: when the caller stops waiting, by this host's clock (infinite if it did not say). */
    handle: (method: string, params: unknown, message: AsyncMessage, deadline: number) => Promise<unknown>,
  ): Consumer {
    const queue = rpcQueue(this.service);
    const consumer = this.connection.createConsumer(
      {
        queue,
        queueOptions: { queue, durable: true },
        exchanges: [{ exchange: RPC_EXCHANGE, type: 'topic', durable: true }],
        queueBindings: [{ exchange: RPC_EXCHANGE, queue, routingKey: queue }],
        qos: { prefetchCount: options.prefetch },
        concurrency: options.concurrency,
        requeue: false,
      },
      (message, reply) =>
        this.processSpan(message, queue, SpanKind.SERVER, async () => {
          const started = performance.now();
          // The caller's budget counts from delivery: how long the request waited in the queue
          // cannot be known here without comparing the caller's clock with this one. The broker
          // drops a request that waited longer than its budget (the caller sets its expiration).
          const deadline = deadlineFromBudget(message.headers?.[BUDGET_HEADER]) ?? Number.POSITIVE_INFINITY;
          if (Date.now() >= deadline) {
            observe(
              this.metrics.rpcCalls,
              { queue, method: String(message.type), side: 'server', outcome: 'expired' },
              0,
            );
            return;
          }
          const body = message.body as { method?: unknown; params?: unknown } | undefined;
          const method = typeof body?.method === 'string' ? body.method : 'unknown';
          const caller = this.callerProblem(message);
          let response: RpcReply<unknown>;
          try {
            if (caller) throw new RpcError('forbidden', caller);
            response = { ok: true, result: await handle(method, body?.params, message, deadline) };
          } catch (error) {
            const known = error instanceof RpcError;
            if (!known) this.log.error({ error, method }, 'RPC method failed');
            response = {
              ok: false,
              error: known
                ? { code: error.code, message: error.message }
                : { code: 'internal_error', message: 'internal error' },
            };
          }
          const outcome = response.ok ? 'ok' : response.error.code;
          const seconds = (performance.now() - started) / 1000;
          observe(this.metrics.rpcCalls, { queue, method, side: 'server', outcome }, seconds);
          this.log.debug(
            { queue, method, outcome, duration_ms: Math.round(seconds * 1000) },
            'RPC call handled',
          );
          if (message.replyTo) await reply(response, { contentType: 'application/json', userId: this.user });
        }),
    );
    this.track(consumer, queue);
    return consumer;
  }

  /**
   * Calls `method` on `rpc-<service>` over direct reply-to and resolves with its result, or
   * rejects with the `RpcError` the server replied with. The call is a synchronous call like an
   * HTTP one (book §6.3–6.4) and goes through the same `CallGuard`, target `rpc-<service>`: it
   * never takes longer than `timeoutMs` (or `options.deadline`, if sooner), all attempts
   * together; an idempotent call is retried with back-off after a timeout or an undeliverable
   * request; a circuit breaker per target fails calls at once while it is open. Only timeouts,
   * unroutable requests and channel errors count as failures: a reply, even an error, is an
   * answer. A call that got no reply rejects with `RpcError('service_unavailable')` whose
   * `cause` is the `UpstreamUnavailable`.
   *
   * The correlation id (the saga's, e.g. the order id) travels in a header, because AMQP's own
   * `correlationId` property belongs to the RPC client for matching replies. Every attempt sends
   * the time it has left, as `x-budget-ms` and as the message's expiration: the broker drops a
   * request that waited longer than that, and the server commits nothing after it.
   */
  async call<T>(
    service: string,
    method: string,
    params: unknown,
    timeoutMs: number,
    options: RpcCallOptions = {},
  ): Promise<T> {
    this.rpcClient ??= new DirectReplyClient(this.connection, this.user);
    const client = this.rpcClient;
    const caller = context.active();
    const queue = rpcQueue(service);
    const guard = this.rpcTarget(queue);
    const started = performance.now();
    const idempotent = options.idempotent === true;
    const retries = idempotent ? (options.retries ?? this.options.rpc?.retries ?? 2) : 0;
    const attemptTimeoutMs = Math.min(
      timeoutMs,
      options.attemptTimeoutMs ?? Math.max(1, Math.ceil(timeoutMs / (retries + 1))),
    );
    // One attempt of timeoutMs needs no deadline of its own; several share timeoutMs.
    const deadline = Math.min(
      retries > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY,
      options.deadline ?? Number.POSITIVE_INFINITY,
    );
    let outcome = 'ok';
    try {
      const response = await guard.run(
        {
          method,
          idempotent,
          retries,
          timeoutMs: attemptTimeoutMs,
          ...(Number.isFinite(deadline) ? { deadline } : {}),
        },
        (attemptMs, timeoutDetail) => {
          const messageId = randomUUID();
          // one CLIENT span per attempt; the server's span is its child
          const span = tracer.startSpan(
            `${queue} ${method}`,
            {
              kind: SpanKind.CLIENT,
              attributes: messagingAttributes({
                operation: 'send',
                destination: queue,
                routingKey: queue,
                messageId,
                correlationId: options.correlationId,
                extra: { 'rpc.system': 'rabbitmq', 'rpc.service': service, 'rpc.method': method },
              }),
            },
            caller,
          );
          const reply = client.call(
            queue,
            { method, params },
            attemptMs,
            {
              messageId,
              type: method,
              appId: this.service,
              expiration: String(attemptMs),
              headers: {
                ...traceHeaders(span, caller),
                [BUDGET_HEADER]: attemptMs,
                'x-correlation-id': options.correlationId ?? messageId,
              },
            },
            timeoutDetail,
          );
          reply.then(
            () => span.end(),
            (error: unknown) => {
              failSpan(span, error);
              span.end();
            },
          );
          return reply;
        },
        (message) => ((message.body as RpcReply<T> | undefined)?.ok === true ? 'ok' : 'client_error'),
      );
      const reply = response.body as RpcReply<T>;
      if (!reply.ok) {
        outcome = reply.error.code;
        throw new RpcError(reply.error.code, reply.error.message);
      }
      return reply.result;
    } catch (error) {
      if (!(error instanceof RpcError)) {
        outcome = 'unavailable';
        const detail = error instanceof UpstreamUnavailable ? error.detail : (error as Error).message;
        throw new RpcError('service_unavailable', `${service}.${method} did not answer: ${detail}`, {
          cause: error,
        });
      }
      throw error;
    } finally {
      observe(
        this.metrics.rpcCalls,
        { queue, method, side: 'client', outcome },
        (performance.now() - started) / 1000,
      );
    }
  }

  /** The state of the circuit breaker around `rpc-<service>`: closed until a call says otherwise. */
  rpcCircuit(service: string): BreakerState {
    return this.rpcTargets.get(rpcQueue(service))?.state ?? 'closed';
  }

  /** True when connected and every consumer has (re)started. */
  get ready(): boolean {
    return this.connection.ready && this.readyConsumers.size === this.consumers.length;
  }

  /** Stops taking messages; resolves once the handlers in flight have settled. */
  async stopConsuming(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.close()));
  }

  async close(): Promise<void> {
    await this.stopConsuming();
    await this.rpcClient?.close();
    for (const guard of this.rpcTargets.values()) guard.shutdown();
    await this.publishers?.confirmed.close();
    await this.publishers?.live.close();
    await this.connection.close();
  }

  private rpcTarget(queue: string): CallGuard {
    let guard = this.rpcTargets.get(queue);
    if (!guard) {
      const rpc = this.options.rpc ?? {};
      guard = new CallGuard(
        { log: this.log, metrics: this.metrics },
        {
          name: queue,
          ...(rpc.retries === undefined ? {} : { retries: rpc.retries }),
          ...(rpc.backoff ? { backoff: rpc.backoff } : {}),
          ...(rpc.breaker ? { breaker: rpc.breaker } : {}),
          ...(rpc.random ? { random: rpc.random } : {}),
        },
      );
      this.rpcTargets.set(queue, guard);
    }
    return guard;
  }

  private track(consumer: Consumer, queue: string): void {
    this.consumers.push(consumer);
    consumer.on('ready', () => this.readyConsumers.add(consumer));
    consumer.on('error', (error) => {
      this.readyConsumers.delete(consumer);
      if (/inequivalent arg/.test(String(error?.message))) {
        // Retrying cannot help: an older declaration of this queue stands in the way.
        this.log.error(
          { error, queue },
          `queue ${queue} exists with other arguments (declared by an older version): move its messages, ` +
            `then delete it (rabbitmqctl delete_queue ${queue}) and the service declares it anew`,
        );
        return;
      }
      this.log.warn({ error, queue }, 'consumer error; it restarts when the broker lets it');
    });
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
    const { attempts, delaysMs } = this.options.retry;
    const attempt = Number(message.headers?.['x-attempt'] ?? 0) + 1;
    if (attempt >= attempts) {
      await this.park(queue, message, `failed ${attempt} times; last error: ${error.message}`, {
        'x-attempts': attempt,
      });
      return 'dead_lettered';
    }
    const level = Math.min(attempt, delaysMs.length);
    const delay = Math.round((delaysMs[level - 1] ?? 1000) * (0.8 + Math.random() * 0.4));
    this.log.warn(
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
          ...this.publisherHeader(message),
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
    const outcome = await this.publisher.send({ ...envelope, messageId, mandatory: true }, body);
    if (outcome === 'returned') {
      throw new Error(
        `no queue took the copy sent to ${envelope.exchange || '(default)'} ${envelope.routingKey}`,
      );
    }
  }

  /** The original publisher, for a copy that goes out under this service's own user. */
  private publisherHeader(message: AsyncMessage): Record<string, string> {
    const publisher = this.publisherOf(message);
    return publisher === undefined ? {} : { [PUBLISHER_HEADER]: publisher };
  }

  /** Sends a message that can never succeed to its dead-letter queue with the reason attached. */
  private async park(
    queue: string,
    message: AsyncMessage,
    reason: string,
    extraHeaders: Record<string, unknown> = {},
  ): Promise<void> {
    this.log.error(
      { queue, message_id: message.messageId, reason },
      'message parked in the dead-letter queue',
    );
    await this.sendCopy(
      {
        ...forwardedProperties(message),
        exchange: deadLetterExchange(this.service),
        routingKey: queue,
        headers: {
          ...message.headers,
          ...this.publisherHeader(message),
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

function validateMessage(message: AsyncMessage, event: EventDefinition): string | undefined {
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
