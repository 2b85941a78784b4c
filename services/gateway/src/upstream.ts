import { HttpError } from '@simplebank/chassis';
import { ErrorCode, type ErrorResponse } from '@simplebank/contracts';

export type Query = Record<string, string | number | undefined>;

/**
 * One service the gateway queries over HTTP. Every call has a timeout; an upstream that is down,
 * slow, failing (5xx) or answering with something that is not JSON is a 503 service_unavailable
 * for the customer. A 4xx is passed on with the upstream's code, so bad input stays a 4xx.
 */
export class Upstream {
  private readonly baseUrl: string;

  constructor(
    readonly name: string,
    baseUrl: string,
    private readonly timeoutMs: number,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** GETs `path` (segments already encoded); a 404 throws `notFound` when given. */
  async get<T>(path: string, options: { query?: Query; notFound?: HttpError } = {}): Promise<T> {
    const url = `${this.baseUrl}${path}${queryString(options.query)}`;
    let response: Response;
    let body: unknown;
    try {
      response = await fetch(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (response.status >= 500) {
        await response.body?.cancel();
        throw this.unavailable(`answered ${response.status}`);
      }
      // The timeout covers reading the body too; only a 2xx must be JSON.
      body = response.ok ? await response.json() : await response.json().catch(() => undefined);
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw this.unavailable(describe(error, this.timeoutMs));
    }
    if (response.ok) return body as T;
    if (response.status === 404 && options.notFound) throw options.notFound;
    const error = (body as Partial<ErrorResponse> | undefined)?.error;
    throw new HttpError(
      response.status,
      error?.code ?? (response.status === 404 ? ErrorCode.notFound : 'bad_request'),
      error?.message ?? `${this.name} answered ${response.status}`,
    );
  }

  private unavailable(why: string): HttpError {
    return new HttpError(503, ErrorCode.serviceUnavailable, `${this.name} is unavailable: ${why}`);
  }
}

/** A path segment from customer input; the schemas already restrict it, this keeps it one segment. */
export const segment = (value: string): string => encodeURIComponent(value);

function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  return params.size === 0 ? '' : `?${params}`;
}

function describe(error: unknown, timeoutMs: number): string {
  const name = (error as Error)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  if (error instanceof SyntaxError) return 'answered with a body that is not JSON';
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
