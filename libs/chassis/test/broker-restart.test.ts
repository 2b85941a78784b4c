import { randomUUID } from 'node:crypto';
import { type RunningService, rabbitmqctl, startService } from '@simplebank/chassis';
import { publishEvent, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { OrderCreated } from '@simplebank/contracts';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import counter from './fixtures/counter-service.ts';

// These tests stop and start the RabbitMQ application (`rabbitmqctl stop_app`, on this machine or in its container):
// every connection drops, exactly as when the broker restarts. Quorum queues keep their messages.
const witness = 'outbox-witness';

let env: Record<string, string>;
let service: RunningService;
let rabbit: Connection;

beforeAll(async () => {
  env = await testEnvironment('chassis_restart');
  service = await startService(counter, { env, listen: false });
  rabbit = new Connection(env.AMQP_URL);
  rabbit.on('error', () => undefined); // it reconnects by itself; the restarts here are on purpose
  await rabbit.queueDeclare({ queue: witness, durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await rabbit.queueBind({
    queue: witness,
    exchange: OrderCreated.exchange,
    routingKey: OrderCreated.routingKey,
  });
}, 60_000);

afterAll(async () => {
  await rabbitmqctl(['-q', 'start_app']).catch(() => undefined);
  await service?.stop();
  await rabbit?.close();
}, 60_000);

async function whileBrokerIsDown<T>(work: () => Promise<T>): Promise<T> {
  await rabbitmqctl(['-q', 'stop_app']);
  try {
    return await work();
  } finally {
    await rabbitmqctl(['-q', 'start_app']);
  }
}

// The broker is a soft dependency: the service stays ready without it, /health says degraded.
const brokerDown = async () => (await service.ops.inject({ url: '/health' })).json().checks.broker === 'down';
const effectsFor = async (orderId: string) =>
  (await service.context.pool.query('SELECT count(*)::int AS n FROM effects WHERE order_id = $1', [orderId]))
    .rows[0].n as number;

describe('when RabbitMQ restarts', () => {
  it('the outbox relay publishes what was committed while the broker was down, once it is back', async () => {
    const order = { ...OrderCreated.example, orderId: randomUUID() };
    await whileBrokerIsDown(async () => {
      await waitFor('the service to notice the broker is gone', brokerDown);
      await service.context.transaction({ correlationId: order.orderId, causationId: null }, (_tx, publish) =>
        publish(OrderCreated, order),
      );
      const { rows } = await service.context.pool.query('SELECT count(*)::int AS n FROM outbox');
      expect(rows[0].n).toBe(1);
    });
    await waitFor(
      'the outbox to drain',
      async () => {
        const { rows } = await service.context.pool.query('SELECT count(*)::int AS n FROM outbox');
        return rows[0].n === 0;
      },
      { timeoutMs: 30_000 },
    );
    const published = await waitFor(
      'the event in the witness queue',
      () => rabbit.basicGet({ queue: witness, noAck: true }),
      // the test's own connection reconnects on its backoff, which grows while the broker is down
      // (longer since RabbitMQ starts its Prometheus plugin too)
      { timeoutMs: 30_000 },
    );
    expect((published.body as { payload: { orderId: string } }).payload.orderId).toBe(order.orderId);
    expect(published.messageId).toBeTruthy();
  }, 90_000);

  it('consumers come back without a process restart', async () => {
    await whileBrokerIsDown(() => waitFor('the service to notice the broker is gone', brokerDown));
    await waitFor('the service to see the broker again', async () => !(await brokerDown()), {
      timeoutMs: 30_000,
    });
    const order = { ...OrderCreated.example, orderId: randomUUID() };
    await publishEvent(env.AMQP_URL as string, OrderCreated, order);
    await waitFor(
      'the resumed consumer to handle a new message',
      async () => (await effectsFor(order.orderId)) === 1,
      {
        timeoutMs: 15_000,
      },
    );
  }, 60_000);
});
