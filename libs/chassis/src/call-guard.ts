import { setTimeout as sleep } from 'node:timers/promises';
import CircuitBreaker from 'opossum';
import { retryDelay } from './backoff.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/** Why a call got no answer: a 4xx (an error the server replied with) is an answer, these are not. */
export type UnavailableReason = 'timeout' | 'network' | 'server_error' | 'circuit_open';

/**
 * The target gave no usable answer: it timed out (or the caller's deadline came), could not be
 * reached, answered 5xx (or a 2xx that is not JSON), or its circuit breaker is open.
 */
export class UpstreamUnavailable extends Error {
  override name = 'UpstreamUnavailable';
  constructor(
    readonly target: string,
    readonly reason: UnavailableReason,
    /** What happened, without the target's name: `no answer within 2000 ms`. */
    readonly detail: string,
    /** The status of a 5xx answer. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(`${target} is unavailable: ${detail}`, options);
  }
}

export interface BreakerOptions {
  /** Opens when more than this share (%) of the calls in the window failed. Default 50. */
  errorThresholdPercentage?: number;
  /** Stays open this long, then lets one trial call through (half-open). Default 5000. */
  resetTimeoutMs?: number;
  /** Calls in the window before it may open at all. Default 10. */
  volumeThreshold?: number;
  /** The rolling window the failure rate is measured over. Default 10 000. */
  windowMs?: number;
}

export type BreakerState = 'closed' | 'half_open' | 'open';
const STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface CallGuardOptions {
  /** The target, as metrics and logs name it: `exchange`, `rpc-orders`. */
  name: string;
  /** Attempts after the first, for idempotent calls only. Default 2. */
  retries?: number;
  /** Back-off between attempts: ~baseMs, ~2×baseMs, … up to maxMs, half of each random. */
  backoff?: { baseMs?: number; maxMs?: number };
  breaker?: BreakerOptions;
  /** Uniform in [0, 1); for tests. */
  random?: () => number;
}

/** One call as the guard runs it. */
export interface GuardedCall {
  /** The `method` label of the metrics: `GET`, `sell`. */
  method: string;
  /** Only an idempotent call is tried again. */
  idempotent: boolean;
  /** Attempts after the first (idempotent calls only); the guard's default otherwise. */
  retries?: number;
  /** Every attempt gives up after this long, or sooner at the deadline. */
  timeoutMs: number;
  /** When the caller stops waiting (epoch ms): no attempt waits past it, none starts after it. */
  deadline?: number;
  /** Added to the retry log line: `{ path }`. */
  context?: Record<string, unknown>;
}

/**
 * What every synchronous call of the chassis goes through (book §6.3–6.4), whatever carries it
 * (the HTTP client, RPC): a timeout per attempt that never outlasts the caller's deadline,
 * retries with exponential back-off and jitter for idempotent calls only, and one opossum circuit
 * breaker around the target that fails calls at once while it is open. Only what an attempt
 * throws counts as a failure (a timeout, a network error, a 5xx); an error the target answered
 * with is an answer. `/metrics` shows `circuit_breaker_state{target}`,
 * `http_client_calls_total{target,method,outcome}` and `http_client_retries_total`; each change of
 * state is logged once (`circuit breaker opened` / `half-open` / `closed`).
 */
export class CallGuard {
  readonly name: string;
  readonly log: Logger;
  private readonly retries: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly random: () => number;
  private readonly metrics: Metrics;
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;

  constructor(owner: { log: Logger; metrics: Metrics }, options: CallGuardOptions) {
    this.name = options.name;
    this.retries = options.retries ?? 2;
    this.backoff = { baseMs: options.backoff?.baseMs ?? 100, maxMs: options.backoff?.maxMs ?? 2000 };
    this.random = options.random ?? Math.random;
    this.log = owner.log.child({ target: this.name });
    this.metrics = owner.metrics;

    const settings = {
      errorThresholdPercentage: options.breaker?.errorThresholdPercentage ?? 50,
      resetTimeout: options.breaker?.resetTimeoutMs ?? 5000,
      volumeThreshold: options.breaker?.volumeThreshold ?? 10,
      rollingCountTimeout: options.breaker?.windowMs ?? 10_000,
    };
    this.breaker = new CircuitBreaker((send: () => Promise<unknown>) => send(), {
      name: this.name,
      timeout: false, // each attempt has its own
      ...settings,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    });
    const target = this.name;
    const gauge = this.metrics.circuitBreakerState;
    gauge.set({ target }, STATE_VALUE.closed);
    this.breaker.on('open', () => {
      gauge.set({ target }, STATE_VALUE.open);
      const { fires, failures } = this.breaker.stats;
      this.log.warn(
        {
          failures,
          calls: fires,
          error_threshold_percentage: settings.errorThresholdPercentage,
          reset_timeout_ms: settings.resetTimeout,
        },
        'circuit breaker opened',
      );
    });
    this.breaker.on('halfOpen', () => {
      gauge.set({ target }, STATE_VALUE.half_open);
      this.log.info('circuit breaker half-open');
    });
    this.breaker.on('close', () => {
      gauge.set({ target }, STATE_VALUE.closed);
      this.log.info('circuit breaker closed');
    });
  }

  get state(): BreakerState {
    if (this.breaker.opened) return 'open';
    return this.breaker.halfOpen ? 'half_open' : 'closed';
  }

  /** Stops the breaker's timers; calls after this fail as `circuit_open`. */
  shutdown(): void {
    this.breaker.shutdown();
  }

  /**
   * Runs `call`: each attempt is `attempt(timeoutMs, timeoutDetail)` through the breaker, which
   * must give up after `timeoutMs` (throwing `UpstreamUnavailable` with `timeoutDetail`) and throw
   * only when the target gave no answer. `outcomeOf` labels an answer: `ok` or `client_error`.
   * Throws `UpstreamUnavailable` when no attempt got an answer.
   */
  async run<R>(
    call: GuardedCall,
    attempt: (timeoutMs: number, timeoutDetail: string) => Promise<R>,
    outcomeOf: (answer: R) => 'ok' | 'client_error',
  ): Promise<R> {
    const retries = call.idempotent ? (call.retries ?? this.retries) : 0;
    for (let tried = 0; ; tried++) {
      try {
        const answer = await this.attempt(call, attempt);
        this.count(call.method, outcomeOf(answer));
        return answer;
      } catch (error) {
        const failure = this.unavailable(error);
        const delay = retryDelay(tried + 1, this.backoff, this.random);
        const retry =
          tried < retries &&
          failure.reason !== 'circuit_open' &&
          (call.deadline === undefined || Date.now() + delay < call.deadline);
        if (!retry) {
          this.count(call.method, failure.reason);
          throw failure;
        }
        this.metrics.httpClientRetries.inc({ target: this.name, method: call.method });
        this.log.debug(
          {
            method: call.method,
            ...call.context,
            attempt: tried + 1,
            reason: failure.reason,
            retry_in_ms: delay,
          },
          'call failed; will retry',
        );
        await sleep(delay);
      }
    }
  }

  /** One attempt through the breaker, limited by its timeout and the caller's deadline. */
  private attempt<R>(
    call: GuardedCall,
    attempt: (timeoutMs: number, timeoutDetail: string) => Promise<R>,
  ): Promise<R> {
    const left = call.deadline === undefined ? Number.POSITIVE_INFINITY : call.deadline - Date.now();
    if (left <= 0) {
      // the caller has given up: not the target's failure, so not the breaker's business
      return Promise.reject(
        new UpstreamUnavailable(this.name, 'timeout', 'the deadline passed before the call'),
      );
    }
    const timeoutMs = Math.max(1, Math.min(call.timeoutMs, Math.floor(left)));
    const why =
      timeoutMs < call.timeoutMs
        ? `no answer within ${timeoutMs} ms (the deadline)`
        : `no answer within ${timeoutMs} ms`;
    return this.breaker.fire(() => attempt(timeoutMs, why)) as Promise<R>;
  }

  private unavailable(error: unknown): UpstreamUnavailable {
    if (error instanceof UpstreamUnavailable) return error;
    if (CircuitBreaker.isOurError(error)) {
      const open = (error as { code?: string }).code === 'EOPENBREAKER';
      return new UpstreamUnavailable(
        this.name,
        'circuit_open',
        open ? 'circuit open' : (error as Error).message,
        undefined,
        { cause: error },
      );
    }
    return new UpstreamUnavailable(this.name, 'network', describeNetworkError(error), undefined, {
      cause: error,
    });
  }

  private count(method: string, outcome: string): void {
    this.metrics.httpClientCalls.inc({ target: this.name, method, outcome });
  }
}

/** The code (ECONNREFUSED) or message of what a failed request threw. */
export function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
