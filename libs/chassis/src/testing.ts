import { randomUUID } from 'node:crypto';
import type { Envelope, EventDefinition, PayloadOf } from '@simplebank/contracts';
import pg from 'pg';
import { Connection, type Consumer } from 'rabbitmq-client';
import type { TProperties } from 'typebox';
import { rabbitmqctl } from './broker-admin.ts';
import type { RunningService, ServiceDefinition } from './definition.ts';
import { startService } from './service.ts';

export { metricNames } from './promql.ts';
export { TcpProxy } from './tcp-proxy.ts';

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 10_000, intervalMs = 50 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

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

/** Publishes an event as its producer would (envelope, properties), for consumer tests. */
export async function publishEvent<E extends EventDefinition>(
  amqpUrl: string,
  event: E,
  payload: PayloadOf<E>,
  overrides: Partial<Envelope> = {},
): Promise<Envelope> {
  const envelope: Envelope = {
    id: randomUUID(),
    type: event.name,
    version: event.version,
    occurredAt: new Date().toISOString(),
    source: event.source,
    correlationId: (payload as { orderId?: string }).orderId ?? randomUUID(),
    causationId: null,
    payload,
    ...overrides,
  };
  await publishRaw(amqpUrl, event.exchange, event.routingKey, envelope, {
    messageId: envelope.id,
    type: event.name,
  });
  return envelope;
}

/**
 * Publishes any body, valid or not, with confirms; as the chassis does, with `user_id` = the URL's
 * user unless `userId` says otherwise (`null`: none).
 */
export async function publishRaw(
  amqpUrl: string,
  exchange: string,
  routingKey: string,
  body: unknown,
  properties: {
    messageId?: string;
    type?: string;
    userId?: string | null;
    headers?: Record<string, unknown>;
    /** Declare the exchange first (default true; false to publish with a user who may not). */
    declare?: boolean;
  } = {},
): Promise<void> {
  const {
    userId = decodeURIComponent(new URL(amqpUrl).username) || 'guest',
    declare = true,
    ...rest
  } = properties;
  const connection = new Connection(amqpUrl);
  const publisher = connection.createPublisher({
    confirm: true,
    maxAttempts: 1,
    exchanges: declare && exchange !== '' ? [{ exchange, type: 'topic', durable: true }] : [],
  });
  try {
    await publisher.send(
      {
        exchange,
        routingKey,
        durable: true,
        contentType: 'application/json',
        ...rest,
        ...(userId === null ? {} : { userId }),
      },
      body as object,
    );
  } finally {
    await publisher.close();
    await connection.close();
  }
}

/** Records every event of the given kinds that reaches the broker, for producer tests. */
export class EventProbe {
  readonly received: Envelope[] = [];
  private constructor(
    private readonly connection: Connection,
    private readonly consumer: Consumer,
  ) {}

  static async start(amqpUrl: string, events: readonly EventDefinition[]): Promise<EventProbe> {
    const connection = new Connection(amqpUrl);
    connection.on('error', () => undefined); // it reconnects by itself
    const queue = `probe-${randomUUID()}`;
    let probe: EventProbe | undefined;
    const pending: Envelope[] = [];
    const consumer = connection.createConsumer(
      {
        queue,
        queueOptions: { queue, exclusive: true, autoDelete: true },
        exchanges: events.map((e) => ({ exchange: e.exchange, type: 'topic', durable: true })),
        queueBindings: events.map((e) => ({ exchange: e.exchange, queue, routingKey: e.routingKey })),
      },
      async (message) => {
        (probe?.received ?? pending).push(message.body as Envelope);
      },
    );
    await new Promise<void>((resolve, reject) => {
      consumer.once('ready', resolve);
      consumer.once('error', reject);
    });
    probe = new EventProbe(connection, consumer);
    probe.received.push(...pending);
    return probe;
  }

  /** Waits for an event of `event`'s kind matching `where`, and returns it. */
  async next<E extends EventDefinition>(
    event: E,
    where: (payload: PayloadOf<E>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<Envelope<PayloadOf<E>>> {
    return waitFor(
      `a ${event.name}`,
      () =>
        this.received.find((e) => e.type === event.name && where(e.payload as PayloadOf<E>)) as
          | Envelope<PayloadOf<E>>
          | undefined,
      { timeoutMs },
    );
  }

  async close(): Promise<void> {
    await this.consumer.close();
    await this.connection.close();
  }
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
