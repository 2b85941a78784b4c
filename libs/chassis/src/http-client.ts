import { setTimeout as sleep } from 'node:timers/promises';
import CircuitBreaker from 'opossum';
import { DEADLINE_HEADER } from './http.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/** Why a call got no answer: a 4xx is an answer, these are not. */
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

export interface HttpResponse<T = unknown> {
  /** 2xx or 4xx: anything else is thrown as `UpstreamUnavailable`. */
  status: number;
  /** The JSON body; undefined when empty (or, for a 4xx, not JSON). */
  body: T;
  headers: Headers;
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

export interface HttpClientOptions {
  /** The target, as metrics and logs name it: `exchange`, `market`. */
  name: string;
  baseUrl: string;
  /** Every attempt gives up after this long (less when the caller's deadline is nearer). */
  timeoutMs: number;
  /** Attempts after the first, for idempotent calls only. Default 2. */
  retries?: number;
  /** Back-off between attempts: ~baseMs, ~2×baseMs, … up to maxMs, half of each random. */
  backoff?: { baseMs?: number; maxMs?: number };
  breaker?: BreakerOptions;
  /** Headers sent with every call. */
  headers?: Record<string, string>;
  /** Uniform in [0, 1); for tests. */
  random?: () => number;
}

export interface CallOptions {
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /**
   * When the caller stops waiting (epoch ms), e.g. `request.deadline`: no attempt waits past it,
   * none starts after it, and it travels on as `x-deadline`.
   */
  deadline?: number;
  /** This call's per-attempt timeout instead of the client's. */
  timeoutMs?: number;
  /** This call's retries instead of the client's (idempotent calls only). */
  retries?: number;
}

export type BreakerState = 'closed' | 'half_open' | 'open';
const STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/**
 * Waits before retry number `retry` (1, 2, …): exponential back-off with jitter. Half the delay is
 * fixed and half random, so the delays grow and retries of many callers spread out. Pure.
 */
export function retryDelay(retry: number, backoff: { baseMs: number; maxMs: number }, random: () => number) {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * The chassis' client for synchronous calls to one target (book §6.3–6.4): every attempt has a
 * timeout; idempotent calls are retried with exponential back-off and jitter; a circuit breaker
 * (opossum) around the target fails calls at once while it is open. Only timeouts, network errors
 * and 5xx count as failures: a 4xx is the target's answer, returned like a 2xx.
 */
export class HttpClient {
  readonly name: string;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly breaker: CircuitBreaker<[() => Promise<HttpResponse>], HttpResponse>;

  constructor(
    owner: { log: Logger; metrics: Metrics },
    private readonly options: HttpClientOptions,
  ) {
    this.name = options.name;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs;
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
    this.breaker = new CircuitBreaker((send: () => Promise<HttpResponse>) => send(), {
      name: this.name,
      timeout: false, // each attempt has its own, which also covers reading the body
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

  get<T = unknown>(path: string, options: CallOptions = {}): Promise<HttpResponse<T>> {
    return this.call<T>('GET', path, undefined, options, true);
  }

  /** Not retried unless `idempotent` (the body carries a key that makes a repeat harmless). */
  post<T = unknown>(
    path: string,
    body: unknown,
    options: CallOptions & { idempotent?: boolean } = {},
  ): Promise<HttpResponse<T>> {
    return this.call<T>('POST', path, body, options, options.idempotent === true);
  }

  put<T = unknown>(path: string, body: unknown, options: CallOptions = {}): Promise<HttpResponse<T>> {
    return this.call<T>('PUT', path, body, options, true);
  }

  delete<T = unknown>(path: string, options: CallOptions = {}): Promise<HttpResponse<T>> {
    return this.call<T>('DELETE', path, undefined, options, true);
  }

  /** Stops the breaker's timers; calls after this fail as `circuit_open`. */
  close(): void {
    this.breaker.shutdown();
  }

  private async call<T>(
    method: Method,
    path: string,
    body: unknown,
    options: CallOptions,
    idempotent: boolean,
  ): Promise<HttpResponse<T>> {
    const query = queryString(options.query);
    const url = `${this.baseUrl}${path}${query && (path.includes('?') ? `&${query}` : `?${query}`)}`;
    const retries = idempotent ? (options.retries ?? this.retries) : 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await this.attempt(method, url, body, options);
        this.count(method, response.status >= 400 ? 'client_error' : 'ok');
        return response as HttpResponse<T>;
      } catch (error) {
        const failure = this.unavailable(error);
        const delay = retryDelay(attempt + 1, this.backoff, this.random);
        const retry =
          attempt < retries &&
          failure.reason !== 'circuit_open' &&
          (options.deadline === undefined || Date.now() + delay < options.deadline);
        if (!retry) {
          this.count(method, failure.reason);
          throw failure;
        }
        this.metrics.httpClientRetries.inc({ target: this.name, method });
        this.log.debug(
          { method, path, attempt: attempt + 1, reason: failure.reason, retry_in_ms: delay },
          'call failed; will retry',
        );
        await sleep(delay);
      }
    }
  }

  /** One attempt through the breaker, limited by the client's timeout and the caller's deadline. */
  private attempt(method: Method, url: string, body: unknown, options: CallOptions): Promise<HttpResponse> {
    const own = options.timeoutMs ?? this.timeoutMs;
    const left = options.deadline === undefined ? Number.POSITIVE_INFINITY : options.deadline - Date.now();
    if (left <= 0) {
      // the caller has given up: not the target's failure, so not the breaker's business
      return Promise.reject(
        new UpstreamUnavailable(this.name, 'timeout', 'the deadline passed before the call'),
      );
    }
    const timeoutMs = Math.max(1, Math.min(own, Math.floor(left)));
    const why =
      timeoutMs < own
        ? `no answer within ${timeoutMs} ms (the deadline)`
        : `no answer within ${timeoutMs} ms`;
    return this.breaker.fire(() => this.send(method, url, body, options.headers, timeoutMs, why));
  }

  private async send(
    method: Method,
    url: string,
    body: unknown,
    headers: Record<string, string> | undefined,
    timeoutMs: number,
    timeoutDetail: string,
  ): Promise<HttpResponse> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...this.options.headers,
          ...headers,
          // this attempt gives up then: work the target does after it is wasted
          [DEADLINE_HEADER]: String(Date.now() + timeoutMs),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text(); // the timeout covers reading the body too
    } catch (error) {
      const name = (error as Error)?.name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new UpstreamUnavailable(this.name, 'timeout', timeoutDetail, undefined, { cause: error });
      }
      throw new UpstreamUnavailable(this.name, 'network', describeNetworkError(error), undefined, {
        cause: error,
      });
    }
    if (response.status >= 500) {
      const detail = `answered ${response.status}${text ? ` ${text.slice(0, 200)}` : ''}`;
      throw new UpstreamUnavailable(this.name, 'server_error', detail, response.status);
    }
    let parsed: unknown;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        if (response.ok) {
          throw new UpstreamUnavailable(
            this.name,
            'server_error',
            `answered ${response.status} with a body that is not JSON`,
            response.status,
          );
        }
      }
    }
    return { status: response.status, body: parsed, headers: response.headers };
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

  private count(method: Method, outcome: string): void {
    this.metrics.httpClientCalls.inc({ target: this.name, method, outcome });
  }
}

function queryString(query: CallOptions['query'] = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  return params.toString();
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
