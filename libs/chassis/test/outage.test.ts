import { randomUUID } from 'node:crypto';
import { deadLetterQueue, handlerQueue, type RunningService, startService } from '@simplebank/chassis';
import { metricValue, publishEvent, TcpProxy, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { OrderCreated } from '@simplebank/contracts';
import pg from 'pg';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamUnavailable } from '../src/call-guard.ts';
import { isDatabaseUnreachable } from '../src/infrastructure.ts';
import counter from './fixtures/counter-service.ts';

const queue = handlerQueue(OrderCreated, 'chassis-fixture', 'count');
let env: Record<string, string>;
let proxy: TcpProxy;
let service: RunningService;
let db: pg.Client;
let rabbit: Connection;

beforeAll(async () => {
  env = await testEnvironment('chassis-outage');
  // the service reaches its database only through the proxy; the test, directly
  const database = new URL(env.DATABASE_URL as string);
  proxy = await TcpProxy.start({ host: database.hostname, port: Number(database.port || 5432) });
  service = await startService(counter, {
    env: {
      ...env,
      DATABASE_URL: proxy.through(env.DATABASE_URL as string),
      // a retry budget of ~150 ms: any outage outlasts it
      HANDLER_ATTEMPTS: '3',
      RETRY_DELAYS_MS: '50,100',
    },
    listen: false,
  });
  db = new pg.Client({ connectionString: env.DATABASE_URL });
  await db.connect();
  rabbit = new Connection(env.AMQP_URL);
  rabbit.on('error', () => undefined);
});

afterAll(async () => {
  await proxy?.restore(); // lets the service stop cleanly
  await service?.stop();
  await proxy?.close();
  await db?.end();
  await rabbit?.close();
});

const parked = async () =>
  (await rabbit.queueDeclare({ queue: deadLetterQueue(queue), passive: true })).messageCount;
const ready = async () => (await service.app.inject({ url: '/health/ready' })).statusCode;

describe('a handler whose database is unreachable', () => {
  it('spends none of its messages’ retry budget: nothing is parked, all are handled once it is back', async () => {
    await proxy.cut();
    const orders = Array.from({ length: 5 }, () => ({ ...OrderCreated.example, orderId: randomUUID() }));
    for (const order of orders) await publishEvent(env.AMQP_URL as string, OrderCreated, order);

    // Far longer than the retry budget: the database has been probed and found down 4 times
    // (~100 + 200 + 400 + 800 ms apart). Without the pause, the messages are parked meanwhile.
    await waitFor(
      'the outage to outlast the retry budget',
      async () =>
        (await parked()) > 0 ||
        (await metricValue(service, 'database_probes_total', { outcome: 'down' })) >= 4,
      { timeoutMs: 15_000 },
    );
    expect(await parked()).toBe(0);
    expect(await metricValue(service, 'handlers_paused')).toBe(1);
    expect(await ready()).toBe(503);

    await proxy.restore();
    await waitFor(
      'every order handled once',
      async () => {
        const { rows } = await db.query(
          'SELECT order_id, count(*)::int AS n FROM effects WHERE order_id = ANY($1) GROUP BY order_id',
          [orders.map((o) => o.orderId)],
        );
        return rows.length === orders.length && rows.every((r) => r.n === 1);
      },
      { timeoutMs: 15_000 },
    );
    expect(await parked()).toBe(0);
    await waitFor('the service ready again', async () => (await ready()) === 200);
    expect(await metricValue(service, 'handlers_paused')).toBe(0);
  }, 40_000);
});

describe('which failures mean the database is unreachable', () => {
  const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  it('connection refused or lost, the server shutting down or starting, class 08, pool timeouts', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P02', '57P03', '08006', '08001']) {
      expect(isDatabaseUnreachable(coded(code)), code).toBe(true);
    }
    expect(isDatabaseUnreachable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isDatabaseUnreachable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });
  it('not what the work did: lock or statement timeouts, conflicts, another service refusing a call', () => {
    for (const code of ['55P03', '57014', '40001', '40P01', '23505']) {
      expect(isDatabaseUnreachable(coded(code)), code).toBe(false);
    }
    expect(isDatabaseUnreachable(new Error('cannot count order yet'))).toBe(false);
    const refused = new UpstreamUnavailable('exchange', 'network', 'ECONNREFUSED', undefined, {
      cause: coded('ECONNREFUSED'),
    });
    expect(isDatabaseUnreachable(refused)).toBe(false);
  });
});
