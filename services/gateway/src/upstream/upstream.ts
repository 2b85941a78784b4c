import {
  type BreakerOptions,
  type BreakerState,
  HttpClient,
  HttpError,
  type HttpResponse,
  type Logger,
  type Metrics,
  requestDeadline,
  UpstreamUnavailable,
} from '@simplebank/chassis';
import { ErrorCode, type ErrorResponse } from '@simplebank/contracts';

export type Query = Record<string, string | number | undefined>;

export interface UpstreamOptions {
  /** Attempts after the first, with back-off, for GETs and POSTs marked idempotent. Default 1. */
  retries?: number;
  /** The circuit breaker around this upstream; the chassis defaults otherwise. */
  breaker?: BreakerOptions;
}

/**
 * One service the gateway queries over HTTP, through the chassis HTTP client: every call has a
 * timeout (and no more than the customer's request has left, when it sent `x-budget-ms`), a GET
 * (or a POST marked idempotent) that fails is tried once more, and a circuit breaker per upstream
 * answers at once while that
 * upstream keeps failing. An upstream that is down, slow, failing (5xx), answering with something
 * that is not JSON, or behind an open circuit is a 503 service_unavailable for the customer (its
 * `cause` is the chassis' `UpstreamUnavailable`). A 4xx is passed on with the upstream's code, so
 * bad input stays a 4xx.
 */
export class Upstream {
  private readonly client: HttpClient;

  /** `owner` is the service (`svc`): the breaker's state and the calls' outcomes go to its /metrics and log. */
  constructor(
    readonly name: string,
    baseUrl: string,
    timeoutMs: number,
    owner: { log: Logger; metrics: Metrics },
    options: UpstreamOptions = {},
  ) {
    this.client = new HttpClient(owner, {
      name,
      baseUrl,
      timeoutMs,
      retries: options.retries ?? 1,
      ...(options.breaker ? { breaker: options.breaker } : {}),
    });
  }

  /** The state of the circuit breaker around this upstream. */
  get circuit(): BreakerState {
    return this.client.state;
  }

  /**
   * GETs `path` (segments already encoded); a 404 throws `notFound` when given. `deadline`
   * defaults to the deadline of the request being handled, if its caller sent one.
   */
  get<T>(path: string, options: { query?: Query; notFound?: HttpError; deadline?: number } = {}): Promise<T> {
    return this.answer<T>(
      (deadline) =>
        this.client.get(path, {
          ...(options.query ? { query: options.query } : {}),
          ...(deadline === undefined ? {} : { deadline }),
        }),
      options,
    );
  }

  /**
   * POSTs `body` as JSON to `path`: the 2xx body, or the upstream's 4xx as an `HttpError` with its
   * code. Tried again after a timeout, network error or 5xx only when `idempotent` (a repeat
   * changes nothing).
   */
  post<T>(
    path: string,
    body: unknown,
    options: { idempotent?: boolean; notFound?: HttpError; deadline?: number } = {},
  ): Promise<T> {
    return this.answer<T>(
      (deadline) =>
        this.client.post(path, body, {
          idempotent: options.idempotent === true,
          ...(deadline === undefined ? {} : { deadline }),
        }),
      options,
    );
  }

  /** The 2xx body of `call`; a 4xx as an `HttpError`; no answer as a 503 service_unavailable. */
  private async answer<T>(
    call: (deadline: number | undefined) => Promise<HttpResponse>,
    options: { notFound?: HttpError; deadline?: number },
  ): Promise<T> {
    const deadline = options.deadline ?? requestDeadline();
    let status: number;
    let body: unknown;
    try {
      ({ status, body } = await call(deadline));
    } catch (error) {
      if (error instanceof UpstreamUnavailable) {
        throw Object.assign(new HttpError(503, ErrorCode.serviceUnavailable, error.message), {
          cause: error,
        });
      }
      throw error;
    }
    if (status >= 200 && status < 300) return body as T;
    if (status === 404 && options.notFound) throw options.notFound;
    const error = (body as Partial<ErrorResponse> | undefined)?.error;
    throw new HttpError(
      status,
      error?.code ?? (status === 404 ? ErrorCode.notFound : 'bad_request'),
      error?.message ?? `${this.name} answered ${status}`,
    );
  }
}

/** A 503 service_unavailable: `upstream` is of no use now, and why. */
export const unavailable = (upstream: Upstream, why: string): HttpError =>
  new HttpError(503, ErrorCode.serviceUnavailable, `${upstream.name} is unavailable: ${why}`);

/**
 * GETs what the gateway keeps a copy of (the quote board, the fee schedule): an answer other than
 * a 2xx means the upstream is of no use, a 503, never a 4xx passed on to a customer.
 */
export const fetchCopy = (upstream: Upstream, path: string): Promise<unknown> =>
  upstream.get<unknown>(path).catch((error: unknown) => {
    if (error instanceof HttpError && error.statusCode !== 503)
      throw unavailable(upstream, `it answered ${error.statusCode}`);
    throw error;
  });

/** True when `error` is an upstream's 503: down, slow, failing or behind an open circuit. */
export const isUnavailable = (error: unknown): boolean =>
  error instanceof HttpError && error.cause instanceof UpstreamUnavailable;

/** A path segment from customer input; the schemas already restrict it, this keeps it one segment. */
export const segment = (value: string): string => encodeURIComponent(value);
