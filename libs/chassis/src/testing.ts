import { randomUUID } from 'node:crypto';
import type { EventDefinition, PayloadOf } from '@simplebank/contracts';
import pg from 'pg';
import type { TProperties } from 'typebox';
import { rabbitmqctl } from './broker-admin.ts';
import type { RunningService, ServiceDefinition } from './definition.ts';
import { startService } from './service.ts';
import { EventProbe, publishEvent } from './testing-messages.ts';
import { waitFor } from './wait-for.ts';

export { metricNames } from './promql.ts';
export { TcpProxy } from './tcp-proxy.ts';
export { EventProbe, publishEvent, publishRaw } from './testing-messages.ts';
export { waitFor } from './wait-for.ts';

/** The PostgreSQL server the tests make their databases on (`pnpm test` may have started it in a container). */
const serverUrl = () =>
  process.env.TEST_PG_URL ?? process.env.PGHOST_URL ?? 'postgres://postgres@127.0.0.1:5432';
/** The RabbitMQ server the tests make their virtual hosts on, as guest. */
const brokerUrl = () => process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Drops and recreates a database, so a test file starts from nothing. */
export async function freshDatabase(name: string): Promise<string> {
  const client = new pg.Client({ connectionString: `${serverUrl()}/postgres` });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return `${serverUrl()}/${name}`;
}

/**
 * A RabbitMQ virtual host of the suite's own, recreated empty, so suites never see each other's
 * queues. Uses `rabbitmqctl` (RABBITMQCTL: in the broker's container); TEST_AMQP_URL points
 * elsewhere instead.
 */
export async function freshVhost(name: string): Promise<string> {
  if (process.env.TEST_AMQP_URL) return process.env.TEST_AMQP_URL;
  await rabbitmqctl(['-q', 'delete_vhost', name]).catch(() => undefined);
  await rabbitmqctl(['-q', 'add_vhost', name]);
  await rabbitmqctl(['-q', 'set_permissions', '-p', name, 'guest', '.*', '.*', '.*']);
  const url = new URL(brokerUrl());
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/**
 * Deletes the virtual hosts that package suites left behind (`simplebank_test_*`, from
 * `testEnvironment`). Each holds a few dozen quorum queues; a broker carrying hundreds of them on
 * two cores grew slow to declare queues and to recover from a restart, until the whole-system
 * suites, which run last, failed on it. Those suites call this before they start; answers the
 * names deleted.
 */
export async function dropSuiteVhosts(prefix = 'simplebank_test_'): Promise<string[]> {
  if (process.env.TEST_AMQP_URL) return [];
  const { stdout } = await rabbitmqctl(['-q', 'list_vhosts', 'name']);
  const leftovers = stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => name.startsWith(prefix));
  for (const name of leftovers) await rabbitmqctl(['-q', 'delete_vhost', name]);
  return leftovers;
}

/** The admin credential (ADMIN_TOKEN) of services started by `testEnvironment`. */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

/** Headers that carry `TEST_ADMIN_TOKEN`, for a test's calls to administrative routes. */
export const adminHeaders = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } as const;

/** Environment for starting a service under test against its own database and vhost. */
export async function testEnvironment(suite: string): Promise<Record<string, string>> {
  const name = `simplebank_test_${suite.replaceAll('-', '_')}`;
  const [databaseUrl, amqpUrl] = await Promise.all([freshDatabase(name), freshVhost(name)]);
  return {
    ...(process.env as Record<string, string>),
    DATABASE_URL: databaseUrl,
    AMQP_URL: amqpUrl,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
  };
}

export interface ServiceUnderTest {
  service: RunningService;
  probe: EventProbe;
  amqpUrl: string;
  stop(): Promise<void>;
}

/**
 * A service started as production starts it, against a database and virtual host of the suite's
 * own, with a probe recording the events it publishes.
 */
export async function serviceUnderTest<P extends TProperties, S>(
  definition: ServiceDefinition<P, S>,
  suite: string,
  publishes: readonly EventDefinition[],
  extraEnv: Record<string, string> = {},
): Promise<ServiceUnderTest> {
  const env = { ...(await testEnvironment(suite)), ...extraEnv };
  const amqpUrl = env.AMQP_URL as string;
  const service = await startService(definition, { env, listen: false });
  const probe = await EventProbe.start(amqpUrl, publishes);
  return {
    service,
    probe,
    amqpUrl,
    stop: async () => {
      await probe.close();
      await service.stop();
    },
  };
}

/**
 * Resolves once everything `service` has published so far has reached `probe`: its outbox is empty
 * (relayed and confirmed), and a `marker` event published after that has arrived (a queue delivers
 * in order).
 */
export async function outboxDrained(
  service: RunningService,
  probe: EventProbe,
  amqpUrl: string,
  marker: EventDefinition,
): Promise<void> {
  await waitFor('the outbox to be empty', async () => {
    const { rows } = await service.context.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox');
    return rows[0]?.n === 0;
  });
  const payload = { ...(marker.example as object), orderId: randomUUID() } as PayloadOf<typeof marker>;
  await publishEvent(amqpUrl, marker, payload);
  await probe.next(marker, (p) => (p as { orderId?: unknown }).orderId === payload.orderId);
}

/**
 * The samples of `name` in a running service's registry (prom-client's, which /metrics shows) whose
 * labels include `labels`. A histogram's samples are `<name>_bucket`, `_sum` and `_count`.
 */
async function metricSamples(
  service: RunningService,
  name: string,
  labels: Record<string, string>,
): Promise<number[]> {
  const { registry } = service.context.metrics;
  const metric =
    registry.getSingleMetric(name) ?? registry.getSingleMetric(name.replace(/_(bucket|sum|count)$/, ''));
  if (!metric) throw new Error(`${service.context.name} registers no metric ${name}`);
  const { name: metricName, values } = await metric.get();
  // a histogram's samples carry their own names; a counter's and a gauge's are the metric's
  return (values as { value: number; labels: Record<string, unknown>; metricName?: string }[])
    .filter(
      (v) =>
        (v.metricName ?? metricName) === name &&
        Object.entries(labels).every(([key, value]) => String(v.labels[key]) === value),
    )
    .map((v) => v.value);
}

/** The first sample of `name` whose labels include `labels`; 0 before there is one (a counter before its first increment). */
export async function metricValue(
  service: RunningService,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return (await metricSamples(service, name, labels))[0] ?? 0;
}

/** The sum of the samples of `name` whose labels include `labels` (every route, every outcome, …). */
export async function metricSum(
  service: RunningService,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return (await metricSamples(service, name, labels)).reduce((sum, value) => sum + value, 0);
}
