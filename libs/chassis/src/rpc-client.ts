import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import type { RpcReply } from '@simplebank/contracts';
import { type BreakerState, CallGuard, type CallGuardOptions, UpstreamUnavailable } from './call-guard.ts';
import { BUDGET_HEADER } from './deadline.ts';
import { DirectReplyClient } from './direct-reply-client.ts';
import { observe } from './metrics.ts';
import type { BrokerLink } from './senders.ts';
import { rpcQueue } from './topology.ts';
import { failSpan, messagingAttributes, SpanKind, traceHeaders, tracer } from './tracing.ts';

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

/** The synchronous-call settings of RPC calls, the same for every target (`rpc-<service>`). */
export type RpcClientOptions = Omit<CallGuardOptions, 'name'>;

/**
 * Calls other services' RPC methods over direct reply-to, each target behind a `CallGuard` of its
 * own (timeouts, retries and the circuit breaker, as for HTTP: `call-guard.ts` says what counts as
 * a failure).
 */
export class RpcClient {
  private replies: DirectReplyClient | undefined;
  /** One guard per target, made at its first call. */
  private readonly guards = new Map<string, CallGuard>();

  constructor(
    private readonly link: BrokerLink,
    private readonly options: RpcClientOptions = {},
  ) {}

  /**
   * Resolves with the result of `service.method`, or rejects with an `RpcError`: the server's, or
   * `service_unavailable` (its `cause` the `UpstreamUnavailable`) when no reply came in time. The
   * saga's correlation id travels in a header (AMQP's own property matches replies); every attempt
   * carries its budget as `x-budget-ms` and as its expiration.
   */
  async call<T>(
    service: string,
    method: string,
    params: unknown,
    timeoutMs: number,
    options: RpcCallOptions = {},
  ): Promise<T> {
    this.replies ??= new DirectReplyClient(this.link.connection, this.link.user);
    const replies = this.replies;
    const caller = context.active();
    const queue = rpcQueue(service);
    const guard = this.guardFor(queue);
    const started = performance.now();
    const idempotent = options.idempotent === true;
    const retries = idempotent ? (options.retries ?? this.options.retries ?? 2) : 0;
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
          const reply = replies.call(
            queue,
            { method, params },
            attemptMs,
            {
              messageId,
              type: method,
              appId: this.link.service,
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
        this.link.metrics.rpcCalls,
        { queue, method, side: 'client', outcome },
        (performance.now() - started) / 1000,
      );
    }
  }

  /** The state of the circuit breaker around `rpc-<service>`: closed until a call says otherwise. */
  circuit(service: string): BreakerState {
    return this.guards.get(rpcQueue(service))?.state ?? 'closed';
  }

  async close(): Promise<void> {
    await this.replies?.close();
    for (const guard of this.guards.values()) guard.shutdown();
  }

  private guardFor(queue: string): CallGuard {
    let guard = this.guards.get(queue);
    if (!guard) {
      guard = new CallGuard(
        { log: this.link.log, metrics: this.link.metrics },
        { name: queue, ...this.options },
      );
      this.guards.set(queue, guard);
    }
    return guard;
  }
}
