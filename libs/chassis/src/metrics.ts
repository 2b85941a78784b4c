import { TraceFlags, trace } from '@opentelemetry/api';
import client from 'prom-client';

/** prom-client itself, for services' own metrics: one copy of it, so one registry type. */
export { client as prometheus };

/** What `watchOutbox` reads: anything with a pg-style `query` (the service's pool). */
interface Queryable {
  query<R extends object>(sql: string): Promise<{ rows: R[] }>;
}

/** The outbox's backlog, read once per scrape and shared by the two gauges of that scrape. */
interface OutboxBacklog {
  pending: number;
  oldestAgeSeconds: number;
}

/**
 * One registry per process with the chassis' RED metrics. Services add their own metrics to
 * `registry` with the same client.
 */
export function createMetrics(service: string) {
  // OpenMetrics, the exposition format that carries exemplars (Prometheus asks for it first)
  const registry = new client.Registry<client.OpenMetricsContentType>();
  registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
  let readBacklog: (() => Promise<OutboxBacklog>) | undefined;
  let backlog: Promise<OutboxBacklog | undefined> | undefined;
  // Both outbox gauges are collected in the same scrape: one query serves both, then is dropped.
  const currentBacklog = () => {
    if (!readBacklog) return Promise.resolve(undefined);
    backlog ??= readBacklog()
      .catch(() => undefined) // database away: keep the last values rather than fail the scrape
      .finally(() => setImmediate(() => (backlog = undefined)));
    return backlog;
  };
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry });
  const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  return {
    registry,
    httpRequests: new client.Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP requests served, by route and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: seconds,
      enableExemplars: true,
      registers: [registry],
    }),
    messagesPublished: new client.Counter({
      name: 'messages_published_total',
      help: 'Events published to RabbitMQ (confirmed or failed)',
      labelNames: ['exchange', 'routing_key', 'outcome'],
      registers: [registry],
    }),
    messagesConsumed: new client.Histogram({
      name: 'message_handler_duration_seconds',
      help: 'Messages handled, by queue and outcome (ack, duplicate, retry, dead_lettered)',
      labelNames: ['queue', 'outcome'],
      buckets: seconds,
      enableExemplars: true,
      registers: [registry],
    }),
    rpcCalls: new client.Histogram({
      name: 'rpc_call_duration_seconds',
      help: 'RPC calls, by queue, method, side (client or server) and outcome',
      labelNames: ['queue', 'method', 'side', 'outcome'],
      buckets: seconds,
      enableExemplars: true,
      registers: [registry],
    }),
    outboxPending: new client.Gauge({
      name: 'outbox_pending_messages',
      help: 'Outbox rows committed but not yet confirmed by the broker (counted at each scrape)',
      registers: [registry],
      async collect() {
        const read = await currentBacklog();
        if (read) this.set(read.pending);
      },
    }),
    outboxOldestAge: new client.Gauge({
      name: 'outbox_oldest_message_age_seconds',
      help: 'Age of the oldest outbox row not yet relayed; 0 when the outbox is empty',
      registers: [registry],
      async collect() {
        const read = await currentBacklog();
        if (read) this.set(read.oldestAgeSeconds);
      },
    }),
    /** Makes the outbox gauges read the service's `outbox` table at each scrape. */
    watchOutbox(db: Queryable): void {
      readBacklog = async () => {
        const { rows } = await db.query<{ pending: string; age: number | null }>(
          `SELECT count(*) AS pending, extract(epoch FROM now() - min(created_at))::float8 AS age FROM outbox`,
        );
        const row = rows[0];
        return { pending: Number(row?.pending ?? 0), oldestAgeSeconds: Math.max(0, row?.age ?? 0) };
      };
    },
    handlersPaused: new client.Gauge({
      name: 'handlers_paused',
      help: '1 while the event handlers hold their messages because the database is unreachable',
      registers: [registry],
    }),
    databaseProbes: new client.Counter({
      name: 'database_probes_total',
      help: 'Probes of an unreachable database while handlers are paused, by outcome (up, down)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    httpClientCalls: new client.Counter({
      name: 'http_client_calls_total',
      help: 'Calls made with the chassis HTTP client, by target, method and outcome (ok, client_error, timeout, network, server_error, circuit_open)',
      labelNames: ['target', 'method', 'outcome'],
      registers: [registry],
    }),
    httpClientRetries: new client.Counter({
      name: 'http_client_retries_total',
      help: 'Attempts the chassis HTTP client repeated after a timeout, network error or 5xx',
      labelNames: ['target', 'method'],
      registers: [registry],
    }),
    dbStatements: new client.Counter({
      name: 'db_statements_total',
      help: "Statements sent to the service's database, transaction control included",
      registers: [registry],
    }),
    handlerBatchSize: new client.Histogram({
      name: 'handler_batch_size',
      help: 'Messages and RPC requests handled together in one transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    circuitBreakerState: new client.Gauge({
      name: 'circuit_breaker_state',
      help: 'State of the circuit breaker around each target: 0 closed, 1 half-open, 2 open',
      labelNames: ['target'],
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

/**
 * `saga_compensations_total{compensation,reason}`: the compensations a service ran that undid
 * something (the contracts' SagaStep C1 orders, C2 account-transactions, C3 fees), by the
 * OrderFailed reason or `expired`.
 * One definition for the three services that run one, so the boards and alerts read one metric.
 */
export const compensationsCounter = (registry: Metrics['registry']) =>
  new client.Counter({
    name: 'saga_compensations_total',
    help: 'Compensations run, by compensation (C1 orders, C2 account-transactions, C3 fees) and reason',
    labelNames: ['compensation', 'reason'],
    registers: [registry],
  });

/**
 * Observes `seconds` with the current trace's id as the exemplar (`traceID`, what Grafana's
 * exemplar link opens in Jaeger), when a sampled span is active.
 */
export function observe<T extends string>(
  histogram: client.Histogram<T>,
  labels: client.LabelValues<T>,
  seconds: number,
): void {
  const span = trace.getActiveSpan()?.spanContext();
  const sampled = span !== undefined && (span.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
  histogram.observe({
    labels,
    value: seconds,
    exemplarLabels: (sampled ? { traceID: span.traceId } : {}) as client.LabelValues<T>,
  });
}
