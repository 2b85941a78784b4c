import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { defineService, handlerQueue, type RunningService, startService } from '@simplebank/chassis';
import { metricValue, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { FeeCharged, OrderCreated } from '@simplebank/contracts';
import pg from 'pg';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import counter from './fixtures/counter-service.ts';

/** A service that publishes FeeCharged, which no queue of this suite's vhost takes yet. */
const feePublisher = defineService({
  name: 'chassis-fee-publisher',
  version: '0.0.0',
  port: 0,
  migrations: new URL('./fixtures/migrations/', import.meta.url),
  publishes: [FeeCharged],
});

let env: Record<string, string>;
let service: RunningService;
let db: pg.Client;
let rabbit: Connection;

beforeAll(async () => {
  env = await testEnvironment('chassis-unroutable');
  service = await startService(feePublisher, { env, listen: false });
  db = new pg.Client({ connectionString: env.DATABASE_URL });
  await db.connect();
  rabbit = new Connection(env.AMQP_URL);
  rabbit.on('error', () => undefined);
});

afterAll(async () => {
  await service?.stop();
  await db?.end();
  await rabbit?.close();
});

const outboxRow = async (messageId: string) =>
  (await db.query('SELECT returns FROM outbox WHERE message_id = $1', [messageId])).rows[0] as
    | { returns: number }
    | undefined;

describe('a saga event the broker returns as unroutable', () => {
  it('stays in the outbox, and is delivered once a queue is bound for it', async () => {
    const payload = { ...FeeCharged.example, orderId: randomUUID() };
    await service.context.transaction({ correlationId: payload.orderId, causationId: null }, (_tx, publish) =>
      publish(FeeCharged, payload),
    );
    // written at the commit; returned by the broker, it stays
    const { rows } = await db.query("SELECT message_id FROM outbox WHERE body->'payload'->>'orderId' = $1", [
      payload.orderId,
    ]);
    const messageId = rows[0].message_id as string;
    const returned = () =>
      metricValue(service, 'messages_published_total', {
        routing_key: FeeCharged.routingKey,
        outcome: 'returned',
      });
    await waitFor(
      'the relay to publish it',
      async () => (await returned()) >= 1 || (await outboxRow(messageId)) === undefined,
    );
    expect(await outboxRow(messageId)).toMatchObject({ returns: expect.any(Number) });

    // a consumer's queue appears (its service deployed at last)
    const queue = `late-consumer-${randomUUID()}`;
    await rabbit.queueDeclare({ queue, exclusive: true });
    await rabbit.queueBind({ queue, exchange: FeeCharged.exchange, routingKey: FeeCharged.routingKey });
    const delivered = await waitFor(
      'the event in the new queue',
      () => rabbit.basicGet({ queue, noAck: true }),
      { timeoutMs: 10_000 },
    );
    expect(delivered.messageId).toBe(messageId);
    expect((delivered.body as { payload: unknown }).payload).toEqual(payload);
    await waitFor('its outbox row gone', async () => (await outboxRow(messageId)) === undefined);
  });
});

describe('a handler queue', () => {
  it('dead-letters at least once (the broker keeps what it dead-letters until confirmed)', async () => {
    const ownEnv = await testEnvironment('chassis-dead-letter');
    const consumer = await startService(counter, { env: ownEnv, listen: false });
    try {
      const { stdout } = await promisify(execFile)('rabbitmqctl', [
        '-q',
        'list_queues',
        '-p',
        new URL(ownEnv.AMQP_URL as string).pathname.slice(1),
        'name',
        'arguments',
        '--formatter',
        'json',
      ]);
      const queues = JSON.parse(stdout) as { name: string; arguments: Record<string, unknown> | unknown[] }[];
      const queue = queues.find((q) => q.name === handlerQueue(OrderCreated, 'chassis-fixture', 'count'));
      expect(JSON.stringify(queue?.arguments)).toMatch(/x-dead-letter-strategy.*at-least-once/);
      expect(JSON.stringify(queue?.arguments)).toMatch(/x-overflow.*reject-publish/);
    } finally {
      await consumer.stop();
    }
  });
});
