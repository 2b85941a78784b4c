import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorCode, type ErrorResponse } from '@simplebank/contracts';
import Fastify, { type FastifyError, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

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
export function createApp(log: Logger, metrics: Metrics): App {
  const app = Fastify({
    loggerInstance: log,
    // Requests are counted in metrics; logging each one would cost more than it tells.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.observe(
      { method: request.method, route, status_code: reply.statusCode },
      reply.elapsedTime / 1000,
    );
    if (reply.statusCode >= 500) {
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
      const where = error.validationContext ?? 'request';
      return reply
        .status(400)
        .send(errorBody(ErrorCode.validationFailed, `${where}${error.message.replace(/^\w+/, '')}`));
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
