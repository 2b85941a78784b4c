import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { deadLetterQueue, handlerQueue, type RunningService, startService } from '@simplebank/chassis';
import { metricValue, publishEvent, publishRaw, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { OrderCreated } from '@simplebank/contracts';
import pg from 'pg';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectReplyClient } from '../src/direct-reply-client.ts';
import counter, { ALWAYS_FAILS, FAILS_TWICE } from './fixtures/counter-service.ts';

const queue = handlerQueue(OrderCreated, 'chassis-fixture', 'count');
let env: Record<string, string>;
let db: pg.Pool;
let rabbit: Connection;

beforeAll(async () => {
  env = await testEnvironment('chassis');
  db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
  db.on('error', () => undefined); // one test cuts every connection to this database
  rabbit = new Connection(env.AMQP_URL);
  rabbit.on('error', () => undefined); // it reconnects by itself
});

afterAll(async () => {
  await db?.end();
  await rabbit?.close();
});

const effectsFor = async (orderId: string) =>
  (await db.query('SELECT count(*)::int AS n FROM effects WHERE order_id = $1', [orderId])).rows[0]
    .n as number;

const readyMessages = async () => (await rabbit.queueDeclare({ queue, passive: true })).messageCount;

function runFixture(extraEnv: Record<string, string> = {}): {
  child: ChildProcess;
  started: Promise<void>;
  output: () => string;
} {
  const script = fileURLToPath(new URL('./fixtures/run-counter-service.ts', import.meta.url));
  const child = spawn(process.execPath, [script], {
    env: { ...env, LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const started = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', () => {
      if (output.includes('chassis-fixture started')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`fixture exited early (${code})`)));
  });
  return { child, started, output: () => output };
}

describe('consuming against real RabbitMQ and PostgreSQL', () => {
  it('applies a message once when the process crashes after commit and before the ack', async () => {
    const crashing = runFixture({ CRASH_AFTER_COMMIT: '1' });
    await crashing.started;
    const order = { ...OrderCreated.example, orderId: randomUUID() };
    const exited = once(crashing.child, 'exit');
    await publishEvent(env.AMQP_URL as string, OrderCreated, order);
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
    expect(await effectsFor(order.orderId)).toBe(1);
    // Never acked: the broker gives the message to the next consumer.
    await waitFor('the unacked message back in the queue', async () => (await readyMessages()) === 1);

    const healthy = runFixture({ LOG_LEVEL: 'debug' });
    await healthy.started;
    // handled and acked: the chassis logs each message's outcome once it is settled
    await waitFor('the redelivery to be acked as a duplicate', () =>
      healthy.output().includes('"outcome":"duplicate"'),
    );
    const stopped = once(healthy.child, 'exit');
    healthy.child.kill('SIGTERM');
    expect((await stopped)[0]).toBe(0);
    // Acked as a duplicate (nothing requeued on close), and the effect is still there once.
    expect(await readyMessages()).toBe(0);
    expect(await effectsFor(order.orderId)).toBe(1);
  }, 30_000);

  describe('in process', () => {
    let service: RunningService;
    beforeAll(async () => {
      service = await startService(counter, {
        env: { ...env, HANDLER_ATTEMPTS: '3', RETRY_DELAYS_MS: '50,100' },
        listen: false,
      });
    });
    afterAll(async () => service?.stop());

    it('retries a failing handler after a delay, through the retry queues, until it succeeds', async () => {
      const order = { ...OrderCreated.example, orderId: randomUUID(), quantity: FAILS_TWICE };
      await publishEvent(env.AMQP_URL as string, OrderCreated, order);
      await waitFor('the third attempt to succeed', async () => (await effectsFor(order.orderId)) === 1);
      expect(
        await metricValue(service, 'message_handler_duration_seconds_count', { outcome: 'retry' }),
      ).toBeGreaterThanOrEqual(2);
    });

    it('parks a message whose handler fails every attempt, with the error and the attempt count', async () => {
      const order = { ...OrderCreated.example, orderId: randomUUID(), quantity: ALWAYS_FAILS };
      const envelope = await publishEvent(env.AMQP_URL as string, OrderCreated, order);
      const parked = await waitFor('the parked message', () =>
        rabbit.basicGet({ queue: deadLetterQueue(queue), noAck: true }),
      );
      expect(parked.messageId).toBe(envelope.id);
      expect(parked.headers?.['x-attempts']).toBe(3);
      expect(String(parked.headers?.['x-death-reason'])).toMatch(
        /failed 3 times; last error: cannot count order/,
      );
      expect(await effectsFor(order.orderId)).toBe(0);
    });

    it('parks a message that does not match its schema, with the reason, and goes on', async () => {
      const poison = randomUUID();
      await publishRaw(
        env.AMQP_URL as string,
        OrderCreated.exchange,
        OrderCreated.routingKey,
        { nonsense: true },
        {
          messageId: poison,
          type: 'OrderCreated',
        },
      );
      const order = { ...OrderCreated.example, orderId: randomUUID() };
      await publishEvent(env.AMQP_URL as string, OrderCreated, order);
      await waitFor('the valid message behind it', async () => (await effectsFor(order.orderId)) === 1);

      const parked = await waitFor('the parked message', () =>
        rabbit.basicGet({ queue: deadLetterQueue(queue), noAck: true }),
      );
      expect(parked.messageId).toBe(poison);
      expect(String(parked.headers?.['x-death-reason'])).toMatch(/envelope/);
      expect(parked.headers?.['x-original-routing-key']).toBe('order_created');
      expect(parked.body).toEqual({ nonsense: true });
    });

    it('parks an envelope whose payload breaks the event schema', async () => {
      const orderId = randomUUID();
      const envelope = await publishEvent(env.AMQP_URL as string, OrderCreated, {
        ...OrderCreated.example,
        orderId,
        quantity: -3,
      });
      const parked = await waitFor('the parked message', () =>
        rabbit.basicGet({ queue: deadLetterQueue(queue), noAck: true }),
      );
      expect(parked.messageId).toBe(envelope.id);
      expect(String(parked.headers?.['x-death-reason'])).toMatch(/payload.*quantity/);
      expect(await effectsFor(orderId)).toBe(0);
    });

    it('answers a burst of RPC calls made before the reply channel exists, each with its own reply', async () => {
      // Spread over event-loop turns, as requests arriving over HTTP are, so some land while the
      // reply consumer is still being set up.
      const calls: Promise<{ n: number }>[] = [];
      for (let n = 0; n < 300; n++) {
        calls.push(service.context.broker.call<{ n: number }>('chassis-fixture', 'echo', { n }, 5000));
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect((await Promise.all(calls)).map((r) => r.n)).toEqual(Array.from({ length: 300 }, (_, n) => n));
    });

    it('answers RPC errors with a code: bad params, and no server at all', async () => {
      await expect(
        service.context.broker.call('chassis-fixture', 'echo', { n: 'x' }, 5000),
      ).rejects.toMatchObject({
        code: 'validation_failed',
      });
      const started = Date.now();
      await expect(service.context.broker.call('nobody', 'echo', {}, 5000)).rejects.toMatchObject({
        code: 'service_unavailable',
      });
      expect(Date.now() - started).toBeLessThan(2000); // returned as unroutable, not timed out
    });

    it('commits no RPC command whose caller gave up before it finished', async () => {
      const orderId = randomUUID();
      await expect(
        service.context.broker.call('chassis-fixture', 'slowCount', { orderId, ms: 600 }, 200),
      ).rejects.toMatchObject({ code: 'service_unavailable' });
      await waitFor(
        'the server to finish and refuse to commit',
        async () =>
          (await metricValue(service, 'rpc_call_duration_seconds_count', {
            method: 'slowCount',
            side: 'server',
            outcome: 'service_unavailable',
          })) === 1,
      );
      expect(await effectsFor(orderId)).toBe(0);
    });

    it('counts an RPC request’s budget from its delivery, whatever the caller’s clock says', async () => {
      const orderId = randomUUID();
      // a caller whose clock is an hour ahead: an absolute deadline from it would mean an hour here
      const caller = new DirectReplyClient(rabbit, 'guest');
      const request = caller.call(
        'rpc-chassis-fixture',
        { method: 'slowCount', params: { orderId, ms: 600 } },
        5000,
        {
          messageId: randomUUID(),
          type: 'slowCount',
          appId: 'skewed-caller',
          headers: { 'x-budget-ms': 300, 'x-deadline': Date.now() + 3_600_000 },
        },
      );
      try {
        expect((await request).body).toMatchObject({ ok: false, error: { code: 'service_unavailable' } });
      } finally {
        await caller.close();
      }
      expect(await effectsFor(orderId)).toBe(0);
    });

    it('survives its database connections being cut, even one checked out mid-transaction', async () => {
      const orderId = randomUUID();
      // a command that keeps its connection checked out, idle in its transaction, for a while
      const slow = service.context.broker
        .call('chassis-fixture', 'slowCount', { orderId, ms: 1000 }, 5000)
        .catch((error: unknown) => error);
      await waitFor('the command to be idle in its transaction', async () => {
        const { rowCount } = await db.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`,
        );
        return rowCount === 1;
      });
      // what a database restart does to every connection
      await db.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      expect(await slow).toMatchObject({ code: 'internal_error' });
      expect(await effectsFor(orderId)).toBe(0);
      const order = { ...OrderCreated.example, orderId: randomUUID() };
      await publishEvent(env.AMQP_URL as string, OrderCreated, order);
      await waitFor(
        'the service to go on handling messages',
        async () => (await effectsFor(order.orderId)) === 1,
      );
    });

    it('reports ready only with its database and broker up and its consumers running', async () => {
      const response = await service.app.inject({ url: '/health/ready' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ready', checks: { database: 'up', broker: 'up' } });
      const version = await service.app.inject({ url: '/version' });
      expect(version.json()).toMatchObject({ name: 'chassis-fixture', version: '0.0.0' });
      const metrics = await service.app.inject({ url: '/metrics' });
      expect(metrics.body).toMatch(
        /message_handler_duration_seconds_count\{[^}]*queue="evt-orders-order_created--chassis-fixture.count",outcome="ack"\} [1-9]/,
      );
      expect(metrics.body).toMatch(/process_cpu_seconds_total/);
    });
  });
});
