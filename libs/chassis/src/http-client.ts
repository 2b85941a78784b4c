import {
  type BreakerOptions,
  type BreakerState,
  CallGuard,
  describeNetworkError,
  UpstreamUnavailable,
} from './call-guard.ts';
import { BUDGET_HEADER } from './deadline.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export {
  type BreakerOptions,
  type BreakerState,
  type UnavailableReason,
  UpstreamUnavailable,
} from './call-guard.ts';

export interface HttpResponse<T = unknown> {
  /** 2xx or 4xx: anything else is thrown as `UpstreamUnavailable`. */
  status: number;
  /** The JSON body; undefined when empty (or, for a 4xx, not JSON). */
  body: T;
  headers: Headers;
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
   * none starts after it, and each attempt sends the time it has left as `x-budget-ms`.
   */
  deadline?: number;
  /** This call's per-attempt timeout instead of the client's. */
  timeoutMs?: number;
  /** This call's retries instead of the client's (idempotent calls only). */
  retries?: number;
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
  private readonly guard: CallGuard;

  constructor(
    owner: { log: Logger; metrics: Metrics },
    private readonly options: HttpClientOptions,
  ) {
    this.name = options.name;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs;
    this.guard = new CallGuard(owner, {
      name: options.name,
      ...(options.retries === undefined ? {} : { retries: options.retries }),
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.breaker ? { breaker: options.breaker } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
  }

  get state(): BreakerState {
    return this.guard.state;
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
    this.guard.shutdown();
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
    const response = await this.guard.run(
      {
        method,
        idempotent,
        timeoutMs: options.timeoutMs ?? this.timeoutMs,
        ...(options.retries === undefined ? {} : { retries: options.retries }),
        ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
        context: { path },
      },
      (timeoutMs, why) => this.send(method, url, body, options.headers, timeoutMs, why),
      (answer) => (answer.status >= 400 ? 'client_error' : 'ok'),
    );
    return response as HttpResponse<T>;
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
          // this attempt gives up after that long: work the target does later is wasted
          [BUDGET_HEADER]: String(timeoutMs),
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
}

function queryString(query: CallOptions['query'] = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  return params.toString();
}
