import { once } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { provisionBrokerUsers } from '@simplebank/chassis';
import { dropSuiteVhosts, freshDatabase, freshVhost } from '@simplebank/chassis/testing';
import { brokerPermissions, brokerServices, rpcTopicPermission } from '@simplebank/contracts';
import { missingInfrastructure, SERVICES, type ServiceName, Stack } from '@simplebank/stack';
import type { TestProject } from 'vitest/node';
import { startStatsdExporter } from './statsd-exporter.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DATABASE_PREFIX = 'simplebank_e2e_';

/** Starts the whole system once for every end-to-end test file, on ports 1xxxx. */
export default async function setup(project: TestProject) {
  const missing = await missingInfrastructure();
  if (missing.length > 0) throw new Error(missing.join('\n'));

  const databases = ['orders', 'account_transactions', 'fees', 'market', 'stock_exchange'].map(
    (s) => `${DATABASE_PREFIX}${s}`,
  );
  await Promise.all(databases.map(freshDatabase));
  await dropSuiteVhosts(); // the package suites' queues off the broker before the whole system runs
  const amqpUrl = await freshVhost('simplebank_e2e');
  // Each service its own broker user with the contracts' permissions, as compose and Kubernetes do
  // (not with a broker elsewhere: TEST_AMQP_URL, whose users are its own business).
  const brokerUrls: Record<string, string> = process.env.TEST_AMQP_URL
    ? {}
    : await provisionBrokerUsers(amqpUrl, brokerServices, 'simplebank_e2e.', (service) => ({
        ...brokerPermissions(service),
        topic: rpcTopicPermission(service),
      }));
  project.provide('amqp:admin', amqpUrl);
  project.provide('amqp:services', brokerUrls);

  // In place of Jaeger: every service exports its spans here (OTLP/HTTP, JSON encoding).
  const receiver = await otlpReceiver();
  project.provide('url:otlp', receiver.url);
  // In place of prom/statsd-exporter: the book's timers, through statsd/mapping.yml.
  const statsd = await startStatsdExporter(join(root, 'statsd', 'mapping.yml'));
  project.provide('url:statsd-exporter', statsd.metricsUrl);

  mkdirSync(join(root, 'e2e', 'test-results'), { recursive: true });
  const logFile = join(root, 'e2e', 'test-results', 'services.log');
  const log = createWriteStream(logFile);
  const stack = new Stack({
    root,
    portOffset: 10_000,
    brokerUrls: brokerUrls as Partial<Record<ServiceName, string>>,
    env: {
      DATABASE_PREFIX,
      AMQP_URL: amqpUrl,
      REDIS_PREFIX: `e2e-${Date.now()}:`,
      // debug: the chassis' 'request handled' and 'message handled' lines, with their trace ids
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'debug',
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      STATSD_HOST: '127.0.0.1',
      STATSD_PORT: String(statsd.statsdPort),
    },
    serviceEnv: {
      'stock-exchange': { FILL_DELAY_MS: '100' },
      gateway: {
        // the stack's balancer stands where the Ingress would: X-Forwarded-For through it is believed
        TRUSTED_PROXIES: '127.0.0.1',
        // the hostile suite's attacker sends hundreds of orders in seconds to see each answered as
        // documented; the order budget itself is tested in services/gateway/test/abuse.test.ts
        ORDER_RATE_LIMIT_MAX: '1000000',
      },
      // alice, bob and carol, whom the security and hostile suites sign in as
      'account-transactions': { DEMO_DATA: 'true' },
      // Short enough for the deadline test, long enough that the outage test recovers in time.
      market: { PLACEMENT_DEADLINE_MS: '8000' },
    },
    onLine: (service, line) => log.write(`${service} ${line}\n`),
  });
  try {
    await stack.start();
  } catch (error) {
    await stack.stop();
    receiver.server.close();
    statsd.close();
    throw new Error(`${(error as Error).message}; service logs in ${logFile}`);
  }
  for (const { name } of SERVICES) {
    project.provide(`url:${name}`, stack.urls[name]);
    project.provide(`ops:${name}`, stack.opsUrl(name));
  }
  project.provide('admin-token', stack.adminToken);

  return async () => {
    await stack.stop();
    log.end();
    receiver.server.close();
    statsd.close();
  };
}

/** A span as the receiver keeps it: OTLP/JSON, flattened, with its service's name. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: OtlpAttribute[];
      }[];
    }[];
  }[];
}

const otlpValue = (v: OtlpValue) => v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue;
const attributesOf = (attributes: OtlpAttribute[] = []) =>
  Object.fromEntries(attributes.map((a) => [a.key, otlpValue(a.value)]));

/**
 * A minimal OTLP/HTTP trace receiver: `POST /v1/traces` (JSON encoding) keeps the spans in memory,
 * `GET /spans?trace_id=…` answers those of one trace.
 */
async function otlpReceiver(): Promise<{ url: string; server: Server }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://receiver');
      if (request.method === 'POST' && url.pathname === '/v1/traces') {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
          for (const resourceSpans of body.resourceSpans ?? []) {
            const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name']);
            for (const scope of resourceSpans.scopeSpans ?? [])
              for (const span of scope.spans ?? [])
                spans.push({
                  service,
                  traceId: span.traceId,
                  spanId: span.spanId,
                  parentSpanId: span.parentSpanId ?? '',
                  name: span.name,
                  kind: span.kind,
                  attributes: attributesOf(span.attributes),
                });
          }
          response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          response.writeHead(400).end();
        }
        return;
      }
      if (request.method === 'GET' && url.pathname === '/spans') {
        const traceId = url.searchParams.get('trace_id');
        const found = traceId ? spans.filter((s) => s.traceId === traceId) : spans;
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(found));
        return;
      }
      response.writeHead(404).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

declare module 'vitest' {
  export interface ProvidedContext {
    'url:gateway': string;
    'url:orders': string;
    'url:account-transactions': string;
    'url:fees': string;
    'url:market': string;
    'url:stock-exchange': string;
    'url:alerts': string;
    /** Where each service's /health and /metrics are: its URL, but the gateway's operations port. */
    'ops:gateway': string;
    'ops:orders': string;
    'ops:account-transactions': string;
    'ops:fees': string;
    'ops:market': string;
    'ops:stock-exchange': string;
    'ops:alerts': string;
    /** The OTLP receiver in place of Jaeger: `GET /spans?trace_id=…`. */
    'url:otlp': string;
    /** The StatsD exporter's stand-in: its `/metrics`. */
    'url:statsd-exporter': string;
    /** What the services' administrative routes take (ADMIN_TOKEN). */
    'admin-token': string;
    /** The suite's vhost as the broker's administrator (guest). */
    'amqp:admin': string;
    /** Each service's own AMQP URL (its own broker user); empty with TEST_AMQP_URL. */
    'amqp:services': Record<string, string>;
  }
}
