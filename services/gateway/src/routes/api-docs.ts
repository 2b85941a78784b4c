import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { App } from '@simplebank/chassis';
import { ErrorCode, ErrorCodeDescription, FailureReason } from '@simplebank/contracts';
import type { RouteOptions } from 'fastify';
import { requireCustomer } from '../edge/auth.ts';

// The OpenAPI 3.1 document of the gateway, made by @fastify/swagger from the routes' own schemas
// (the ones that validate requests and serialise answers): served at /docs/json, with an
// interactive UI at /docs, and committed as docs/openapi.json (a test keeps it in step:
// `pnpm --filter @simplebank/gateway openapi` writes it anew).

const codes = Object.values(ErrorCode);

const DESCRIPTION = `The public API of SimpleBank's trading platform: sign in, see accounts, quotes and
fees, place sell and buy orders, follow and cancel them.

Money is an exact decimal string with two places (\`"12.34"\`), never a number. Fields are
snake_case. Every answer carries a \`trace-id\` header: the trace of the request in Jaeger.

**Errors.** Every 4xx and 5xx answer is \`{ "error": { "code", "message" } }\`; \`code\` is stable and
machine-readable:

${codes.map((code) => `- \`${code}\`: ${ErrorCodeDescription[code]}`).join('\n')}

**Why an order failed** (an order's \`reason\`, and the \`order\` events of the stream):
${Object.values(FailureReason)
  .map((reason) => `\`${reason}\``)
  .join(', ')}.`;

/** Every error answer, with the code's meaning in the schema. */
export const ApiError = {
  $id: 'ApiError',
  type: 'object',
  description: 'Every 4xx and 5xx answer',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          enum: codes,
          description: codes.map((code) => `${code}: ${ErrorCodeDescription[code]}`).join('\n'),
        },
        message: { type: 'string', description: 'For people: what went wrong, in words' },
      },
    },
  },
} as const;

/** Routes grouped by their first path segment. */
const TAGS: Record<string, string> = {
  auth: 'sign-in',
  shares: 'orders',
  orders: 'orders',
  accounts: 'accounts',
  market: 'market data',
  fees: 'fees',
  screen: 'place-order screen',
};

const protectedRoute = (route: RouteOptions) => [route.preParsing].flat().includes(requireCustomer as never);

export async function apiDocs(app: App, version: string): Promise<void> {
  app.addSchema(ApiError);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'SimpleBank gateway', version, description: DESCRIPTION },
      servers: [{ url: 'http://localhost:8080', description: 'pnpm start' }],
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'The access_token of POST /auth/token',
          },
        },
      },
    },
    // components named after their $id (ApiError), not def-0
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    // Only the public API: the chassis's health, version and metrics routes come before this.
    transform: ({ schema, url, route }) => {
      const secured = protectedRoute(route);
      const response = (schema?.response ?? {}) as Record<string, unknown>;
      const tag = TAGS[url.split('/')[1] ?? ''];
      return {
        url,
        schema: {
          ...schema,
          ...(tag ? { tags: [tag] } : {}),
          ...(secured ? { security: [{ bearer: [] }] } : {}),
          response: {
            ...response,
            '4XX': { $ref: 'ApiError#' },
            '5XX': { $ref: 'ApiError#' },
          },
        },
      };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
