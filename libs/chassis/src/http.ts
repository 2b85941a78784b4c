import { AsyncLocalStorage } from 'node:async_hooks';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorCode, type ErrorResponse } from '@simplebank/contracts';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyError, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from './logger.ts';
import { type Metrics, observe } from './metrics.ts';
import { activeTraceId } from './tracing.ts';

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  Logger,
  TypeBoxTypeProvider
>;

/** An error a route throws to answer with `{ error: { code, message } }`. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const errorBody = (code: string, message: string): ErrorResponse => ({ error: { code, message } });

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * When the caller stops waiting, as epoch ms of this host's clock: the request's arrival plus
     * the budget in its `x-budget-ms` header; undefined when it sent none. Give it to the calls
     * this request makes: `client.get(path, { deadline })`.
     */
    deadline: number | undefined;
  }
}

/**
 * The header a caller's deadline travels in (HTTP and RPC alike), as the milliseconds it has left
 * when it sends the request, never as a point in time: the receiver adds it to its own clock on
 * arrival, so no decision compares two hosts' clocks (a skewed one would expire every request, or
 * none). The time on the wire is not counted; the caller's own timeout still covers it.
 */
export const BUDGET_HEADER = 'x-budget-ms';

/** This host's deadline for a request whose budget header says `value` (ms), counted from `now`. */
export function deadlineFromBudget(value: unknown, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text === null || String(text).trim() === '') return undefined;
  const budget = Number(text);
  return Number.isFinite(budget) ? now + Math.max(0, budget) : undefined;
}

/** The response header in which a public service (the gateway) returns the request's trace id. */
export const TRACE_ID_HEADER = 'trace-id';

const requestContext = new AsyncLocalStorage<{ deadline: number | undefined }>();

/**
 * The deadline of the request being handled, wherever in its handling this runs (undefined
 * outside a request, or when the caller sent none): for code that is not handed the request.
 */
export const requestDeadline = (): number | undefined => requestContext.getStore()?.deadline;

const STALE = Symbol('stale');

/**
 * Marks a route's answer as a fallback (book §6.4): the last known data, served because its
 * source is unavailable. The chassis adds `Warning: 110 - "Response is Stale"` and
 * `X-Data-Stale: true` to the response; the body is serialised as usual.
 */
export function markStale<T extends object>(payload: T): T {
  Object.defineProperty(payload, STALE, { value: true, enumerable: false });
  return payload;
}
export const isStale = (payload: unknown): boolean =>
  typeof payload === 'object' && payload !== null && STALE in payload;

/**
 * Two validators: query strings and path parameters arrive as text and are coerced to the schema's
 * types; JSON bodies are taken as sent (`"quantity": true` must not become an order for 1 share).
 * Neither drops unknown fields: schemas that forbid them reject the request.
 */
function validatorFor(coerceTypes: boolean) {
  const options: AjvOptions = {
    coerceTypes,
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
    strict: false,
  };
  const ajv = new Ajv(options);
  addFormats.default(ajv);
  return ajv;
}
const strictAjv = validatorFor(false);
const coercingAjv = validatorFor(true);

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCode.malformedJson,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.malformedJson,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.unsupportedMediaType,
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.payloadTooLarge,
};

/**
 * The fastify server every service gets: JSON logs through the service's logger, strict schemas
 * (unknown fields are rejected, not silently dropped), RED metrics, and one error shape.
 */
export function createApp(
  log: Logger,
  metrics: Metrics,
  options: { public?: { requestTimeoutMs: number } } = {},
): App {
  const app = Fastify({
    loggerInstance: log,
    // Requests are counted in metrics; logging each one would cost more than it tells.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // Long path parameters reach the route's schema and get its 400, not the router's 414.
    routerOptions: { maxParamLength: 1000 },
    // Errors the router raises before any route runs get the one error shape too.
    frameworkErrors: (error, _request, reply) => {
      const body =
        error.code === 'FST_ERR_BAD_URL'
          ? errorBody(ErrorCode.malformedUrl, 'the URL is not valid percent-encoding')
          : errorBody(ErrorCode.validationFailed, error.message);
      (reply as unknown as { code(status: number): { send(payload: unknown): void } }).code(400).send(body);
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strictAjv : coercingAjv).compile(schema as object),
  );

  // The caller's deadline: a request it has already given up on is answered at once, unrun; any
  // other runs in a context that calls made while handling it can read the deadline from.
  // A service facing the public ignores the header and gives each request its own deadline.
  app.decorateRequest('deadline', undefined);
  app.addHook('onRequest', (request, reply, done) => {
    // A service facing the public tells each caller the trace of its request (to find it in Jaeger).
    if (options.public) {
      const traceId = activeTraceId();
      if (traceId) reply.header(TRACE_ID_HEADER, traceId);
    }
    // A service facing the public sets its own deadline: a caller's header is not to be trusted.
    const deadline = options.public
      ? Date.now() + options.public.requestTimeoutMs
      : deadlineFromBudget(request.headers[BUDGET_HEADER]);
    request.deadline = deadline;
    if (deadline !== undefined && Date.now() >= deadline) {
      reply
        .status(504)
        .send(errorBody('deadline_exceeded', 'the caller had given up before the request arrived'));
      return;
    }
    requestContext.run({ deadline }, done);
  });

  // Still in the request's span, so the line carries its trace id (onResponse runs outside it).
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (!route.startsWith('/health') && route !== '/metrics')
      request.log.debug(
        {
          method: request.method,
          route,
          status_code: reply.statusCode,
          duration_ms: Math.round(reply.elapsedTime),
        },
        'request handled',
      );
    return payload;
  });

  app.addHook('preSerialization', async (_request, reply, payload) => {
    if (isStale(payload)) reply.header('warning', '110 - "Response is Stale"').header('x-data-stale', 'true');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    observe(
      metrics.httpRequests,
      { method: request.method, route, status_code: reply.statusCode },
      reply.elapsedTime / 1000,
    );
    // a 503 from /health/ready is an answer, not a failure; nor is a 504 to a caller already gone
    const callerGone = reply.statusCode === 504 && request.deadline !== undefined;
    if (reply.statusCode >= 500 && !route.startsWith('/health') && !callerGone) {
      request.log.warn(
        { method: request.method, url: request.url, status_code: reply.statusCode },
        'request failed',
      );
    }
  });

  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    if (error instanceof HttpError) {
      return reply.status(error.statusCode).send(errorBody(error.code, error.message));
    }
    if (error.validation) {
      const [first] = error.validation;
      const extra = (first?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
      const message = `${error.validationContext ?? 'request'}${first?.instancePath ?? ''} ${first?.message ?? 'is invalid'}`;
      return reply
        .status(400)
        .send(errorBody(ErrorCode.validationFailed, extra ? `${message} (${extra})` : message));
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      return reply.status(status).send(errorBody(FASTIFY_CODES[error.code] ?? 'bad_request', error.message));
    }
    request.log.error({ error }, 'unhandled error');
    return reply.status(500).send(errorBody(ErrorCode.internal, 'internal error'));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody(ErrorCode.notFound, `no route for ${request.method} ${request.url}`)),
  );
  return app;
}
