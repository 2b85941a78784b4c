import { randomUUID } from 'node:crypto';
import { deadLetterQueue, handlerQueue, type RunningService, startService } from '@simplebank/chassis';
import { metricValue, publishEvent, publishRaw, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { type Envelope, OrderCreated } from '@simplebank/contracts';
import pg from 'pg';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import counter, { ALWAYS_FAILS, SLOW } from './fixtures/counter-service.ts';

// Batched consumption (batching.ts): what arrives while a batch runs is handled in one
// transaction, and a batch that fails is handled again one message at a time.

let env: Record<string, string>;
let service: RunningService;
let db: pg.Client;
const queue = handlerQueue(OrderCreated, 'chassis-fixture', 'count');

beforeAll(async () => {
  env = await testEnvironment('chassis-batching');
  service = await startService(counter, {
    env: { ...env, HANDLER_ATTEMPTS: '2', RETRY_DELAYS_MS: '50', PREFETCH: '50' },
    listen: false,
  });
  db = new pg.Client({ connectionString: env.DATABASE_URL });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await service?.stop();
});

const order = (quantity = 1) => ({ ...OrderCreated.example, orderId: randomUUID(), quantity });

const effectsOf = async (orderIds: string[]) => {
  const { rows } = await db.query<{ order_id: string; n: number }>(
    'SELECT order_id, count(*)::int AS n FROM effects WHERE order_id = ANY($1) GROUP BY order_id',
    [orderIds],
  );
  return new Map(rows.map((r) => [r.order_id, r.n]));
};

/** Batches of more than one so far (`handler_batch_size` buckets are cumulative). */
const batchesOfMoreThanOne = async () =>
  (await metricValue(service, 'handler_batch_size_count')) -
  (await metricValue(service, 'handler_batch_size_bucket', { le: '1' }));

/** A slow message first: the ones published after it wait, and form the next batch. */
async function behindASlowOne(payloads: ReturnType<typeof order>[]): Promise<void> {
  await publishEvent(env.AMQP_URL as string, OrderCreated, order(SLOW));
  await Promise.all(payloads.map((p) => publishEvent(env.AMQP_URL as string, OrderCreated, p)));
}

describe('batched handling', () => {
  it('handles the messages that waited in one transaction, each once', async () => {
    const before = await batchesOfMoreThanOne();
    const orders = Array.from({ length: 20 }, () => order());
    await behindASlowOne(orders);
    const ids = orders.map((o) => o.orderId);
    await waitFor('every order counted', async () => (await effectsOf(ids)).size === ids.length);
    expect([...(await effectsOf(ids)).values()]).toEqual(ids.map(() => 1));
    expect(await batchesOfMoreThanOne()).toBeGreaterThan(before);
  });

  it('a failing message fails alone: the rest of its batch commits, it is retried and parked', async () => {
    const orders = Array.from({ length: 10 }, () => order());
    const failing = order(ALWAYS_FAILS);
    await behindASlowOne([...orders.slice(0, 5), failing, ...orders.slice(5)]);
    const ids = orders.map((o) => o.orderId);
    await waitFor('the others counted', async () => (await effectsOf(ids)).size === ids.length);
    expect([...(await effectsOf(ids)).values()]).toEqual(ids.map(() => 1));
    const rabbit = new Connection(env.AMQP_URL as string);
    try {
      const parked = await waitFor('the failing message parked', async () => {
        const message = await rabbit.basicGet({ queue: deadLetterQueue(queue), noAck: true });
        return message && (message.body as Envelope<{ orderId: string }>).payload.orderId === failing.orderId
          ? message
          : undefined;
      });
      // two attempts (HANDLER_ATTEMPTS): the batch it failed in is not one of them
      expect(parked.headers?.['x-attempts']).toBe(2);
    } finally {
      await rabbit.close();
    }
    expect((await effectsOf([failing.orderId])).size).toBe(0);
  });

  it('the same message twice in one batch is handled once', async () => {
    const twice = order();
    const envelope: Envelope = {
      id: randomUUID(),
      type: OrderCreated.name,
      version: OrderCreated.version,
      occurredAt: new Date().toISOString(),
      source: OrderCreated.source,
      correlationId: twice.orderId,
      causationId: null,
      payload: twice,
    };
    const others = Array.from({ length: 5 }, () => order());
    await publishEvent(env.AMQP_URL as string, OrderCreated, order(SLOW));
    const copy = () =>
      publishRaw(env.AMQP_URL as string, OrderCreated.exchange, OrderCreated.routingKey, envelope, {
        messageId: envelope.id,
        type: OrderCreated.name,
      });
    await Promise.all([
      copy(),
      copy(),
      ...others.map((p) => publishEvent(env.AMQP_URL as string, OrderCreated, p)),
    ]);
    const ids = [twice.orderId, ...others.map((o) => o.orderId)];
    await waitFor('every order counted', async () => (await effectsOf(ids)).size === ids.length);
    // both copies were taken off the queue: nothing is left to count it a second time
    await waitFor('the queue empty', async () => {
      const rabbit = new Connection(env.AMQP_URL as string);
      try {
        return (await rabbit.queueDeclare({ queue, passive: true })).messageCount === 0;
      } finally {
        await rabbit.close();
      }
    });
    expect((await effectsOf([twice.orderId])).get(twice.orderId)).toBe(1);
  });

  it('answers each RPC request of a batch with its own result', async () => {
    // the echoes wait behind a request that holds its transaction, and form one batch
    const held = service.context.broker.call('chassis-fixture', 'hold', { ms: 100 }, 10_000);
    const calls = Array.from({ length: 15 }, (_, n) =>
      service.context.broker.call<{ n: number }>('chassis-fixture', 'echo', { n }, 10_000),
    );
    expect((await Promise.all(calls)).map((r) => r.n)).toEqual(calls.map((_, n) => n));
    await held;
  });
});
