import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { isIP } from 'node:net';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorCode, type ErrorResponse } from '@simplebank/contracts';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyError, type FastifyInstance, LogController } from 'fastify';
import { ConfigError } from './config.ts';
import { BUDGET_HEADER, deadlineFromBudget, requestContext } from './deadline.ts';
import type { Logger } from './logger.ts';
import { type Metrics, observe } from './metrics.ts';
import { isOperationsRoute, isOperationsUrl } from './operations.ts';
import { activeTraceId } from './tracing.ts';

export type App = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  Logger,
  TypeBoxTypeProvider
>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route creates money, customers or faults: it takes the admin credential (`ADMIN`). */
    admin?: boolean;
  }
}

/**
 * Route options of an administrative route (`app.post('/accounts', { ...ADMIN, schema }, …)`): it
 * answers only a caller with `Authorization: Bearer <ADMIN_TOKEN>`. Every `/admin/*` route is one.
 */
export const ADMIN = { config: { admin: true } } as const;

/** Whether a route is administrative: `ADMIN` in its options, or a path under /admin. */
export const isAdminRoute = (route: { url?: string | undefined; config?: { admin?: boolean } | undefined }) =>
  route.config?.admin === true || /^\/admin(\/|$)/.test(route.url ?? '');

/** Marks a request that arrived through the operations listener (`operationsListener`). */
const FROM_OPERATIONS = Symbol('operations listener');

/**
 * The router constraint that keeps an app's operator routes (operations and administrative) on its
 * operations listener and the rest on its own: a route whose listener is not the request's does not
 * match, so the request is answered exactly as one for a route that does not exist.
 */
const listenerConstraint = {
  name: 'listener',
  mustMatchWhenDerived: true,
  storage() {
    const handlers = new Map<string, unknown>();
    return {
      get: (listener: string) => handlers.get(listener) ?? null,
      set: (listener: string, handler: unknown) => void handlers.set(listener, handler),
    };
  },
  deriveConstraint: (request: IncomingMessage) =>
    (request as IncomingMessage & { [FROM_OPERATIONS]?: true })[FROM_OPERATIONS] ? 'operations' : 'service',
  validate(value: unknown) {
    if (value !== 'operations' && value !== 'service') throw new Error(`no listener ${String(value)}`);
  },
};

/**
 * A second HTTP server for `app` (created with `operationsListener: true`), not yet listening: the
 * only one on which its operations and administrative routes answer.
 */
export function operationsListener(app: App): Server {
  return createServer((request, response) => {
    (request as IncomingMessage & { [FROM_OPERATIONS]?: true })[FROM_OPERATIONS] = true;
    app.routing(request, response);
  });
}

/** Whether `given` is the token, compared in constant time (digests hide the lengths too). */
export function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/** Whether `authorization` is `Bearer <adminToken>`; never without a configured token. */
export function isAdmin(authorization: string | undefined, adminToken: string | undefined): boolean {
  if (!adminToken || authorization === undefined) return false;
  return tokenMatches(/^Bearer (.+)$/i.exec(authorization)?.[1], adminToken);
}

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

/** The response header in which a public service (the gateway) returns the request's trace id. */
export const TRACE_ID_HEADER = 'trace-id';

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
 * TRUSTED_PROXIES as a list for fastify's `trustProxy`: each entry an address or a CIDR, checked
 * here so that a typo stops the service at start with the variable's name (fastify's own error
 * would not name it).
 */
export function trustedProxies(setting: string): string[] {
  const entries = setting
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const bits = family === 6 ? 128 : 32;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || !prefixOk || rest.length > 0)
      throw new ConfigError(
        `Invalid configuration: TRUSTED_PROXIES: ${JSON.stringify(entry)} is not an address or a CIDR`,
      );
  }
  return entries;
}

/**
 * The fastify server every service gets: JSON logs through the service's logger, strict schemas
 * (unknown fields are rejected, not silently dropped), RED metrics, and one error shape.
 */
export function createApp(
  log: Logger,
  metrics: Metrics,
  options: {
    public?: { requestTimeoutMs: number; trustedProxies?: string[] };
    /** The credential of administrative routes; without one they refuse every caller. */
    adminToken?: string | undefined;
    /**
     * Its operations routes (health, metrics, version, debug) and administrative ones answer only on
     * a second listener (`operationsListener(app)`); on the app's own server, and to `inject`, they
     * are `404 not_found` like any route that does not exist, and the other routes only there.
     */
    operationsListener?: boolean;
  } = {},
): App {
  const proxies = options.public?.trustedProxies ?? [];
  const app = Fastify({
    loggerInstance: log,
    // `request.ip` (rate limits, logs) is the client's: the address a connection comes from, or,
    // only when that is a trusted proxy, the last address in X-Forwarded-For that is not one.
    trustProxy: proxies.length > 0 ? proxies : false,
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
  if (options.operationsListener) {
    app.addConstraintStrategy(
      listenerConstraint as unknown as Parameters<typeof app.addConstraintStrategy>[0],
    );
    app.addHook('onRoute', (route) => {
      const operators = isOperationsRoute(route.url) || isAdminRoute(route);
      route.constraints = { ...route.constraints, listener: operators ? 'operations' : 'service' };
    });
  }
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

  // Administrative routes (`ADMIN`, and every /admin/*) answer only the holder of ADMIN_TOKEN.
  app.addHook('onRequest', async (request, reply) => {
    if (!isAdminRoute(request.routeOptions) || isAdmin(request.headers.authorization, options.adminToken))
      return;
    await reply
      .status(401)
      .header('www-authenticate', 'Bearer realm="admin"')
      .send(
        errorBody(
          ErrorCode.unauthorized,
          options.adminToken
            ? 'this route needs the admin credential (Authorization: Bearer <ADMIN_TOKEN>)'
            : 'no ADMIN_TOKEN is configured: administrative routes are off',
        ),
      );
    return reply;
  });

  // Still in the request's span, so the line carries its trace id (onResponse runs outside it).
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (!isOperationsUrl(request.url))
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
      // the route, not the URL: URLs hold account and order ids
      request.log.warn({ method: request.method, route, status_code: reply.statusCode }, 'request failed');
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
