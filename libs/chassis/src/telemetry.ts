/**
 * OpenTelemetry for a service process, loaded before the service's own code:
 * `node --import @simplebank/chassis/telemetry dist/server.js` (libs/stack and each service's
 * `start` script do so): the SDK must be listening on the diagnostics channels that fastify and
 * undici announce themselves on before the service creates either, hence a module of its own.
 *
 * No ESM loader hook (import-in-the-middle) and no node:http instrumentation: every call the
 * services make goes through undici (its own diagnostics channel) and every server is fastify
 * (@fastify/otel, the same), so the hook patched nothing we use. It cost each process a loader
 * thread, 48 MB resident at rest, and a tenth of a chassis route's throughput (pnpm bench).
 *
 * The SDK reads the standard variables: OTEL_EXPORTER_OTLP_ENDPOINT (default
 * http://127.0.0.1:4318, Jaeger v2's OTLP/HTTP), OTEL_EXPORTER_OTLP_PROTOCOL (`http/protobuf`,
 * or `http/json`), OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default parent-based
 * always-on; `parentbased_traceidratio` with a ratio keeps or drops whole orders),
 * OTEL_SERVICE_NAME (default: the service's package name without its scope).
 *
 * Spans: one per HTTP request served or made, per message handled or published, per RPC. What a
 * transaction did is counted on its span (`db.statements`, `db.duration_ms`: database.ts), not
 * a span per statement or Redis command: those were most of an order's ~95 spans and of what
 * tracing cost (pnpm bench).
 * OTEL_SDK_DISABLED=true leaves tracing off: no SDK, the API stays a no-op.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isOperationsUrl } from './operations.ts';

const disabled = process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';

/** The name of the package the entry script belongs to, `@simplebank/orders` → `orders`. */
function serviceNameOf(entry: string | undefined): string {
  let dir = entry ? dirname(entry) : process.cwd();
  for (;;) {
    try {
      const { name } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (name) return name.replace(/^@[^/]+\//, '');
    } catch {
      // no package.json here: look further up
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown_service';
    dir = parent;
  }
}

if (!disabled) {
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { UndiciInstrumentation } = await import('@opentelemetry/instrumentation-undici');
  const { FastifyOtelInstrumentation } = await import('@fastify/otel');

  process.env.OTEL_EXPORTER_OTLP_ENDPOINT ??= 'http://127.0.0.1:4318';
  // Traces only: metrics are prom-client's (/metrics), logs are JSON lines on stdout.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';

  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ?? serviceNameOf(process.argv[1]),
    instrumentations: [
      new UndiciInstrumentation({
        ignoreRequestHook: (request) => isOperationsUrl(request.path),
        // a poller's calls (quotes, the execution feed) outside any request would each start a trace
        requireParentforSpans: true,
      }),
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        // readiness probes and scrapes would drown the traces that matter
        ignorePaths: (route) => isOperationsUrl(route.url),
        // the request and its handler; a span per lifecycle hook (four of the chassis' own on
        // every request) told nothing and cost more than the route (bench: chassis cost)
        instrumentHooks: false,
        // the request's SERVER span says it all: a second span for its handler only cost
        instrumentHandler: false,
      }),
    ],
  });
  sdk.start();
  // `runService` flushes the spans still buffered before the process exits.
  // a global, not an export: this module is loaded by `--import`, apart from the chassis' index
  (globalThis as Record<symbol, unknown>)[Symbol.for('simplebank.telemetry')] = sdk;
}
