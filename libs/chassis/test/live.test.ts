import {
  defineService,
  listen,
  on,
  type RunningService,
  rabbitmqctl,
  startService,
  undescribedTopology,
} from '@simplebank/chassis';
import { publishEvent, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { FeeCharged, OrderCreated, OrderStatusChanged, type PayloadOf } from '@simplebank/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxBuffer } from '../src/outbox.ts';

// Live events (delivery 'live'): every running instance of a listener gets each one, on a queue
// of its own that goes away with it. And the contracts' hold on what a service publishes.

type News = PayloadOf<typeof OrderStatusChanged>;
const heard: Record<string, News[]> = { a: [], b: [] };
const listener = (instance: 'a' | 'b') =>
  defineService({
    name: 'gateway', // the contracts' listener of OrderStatusChanged
    version: '0.0.0',
    port: 0,
    listeners: () => ({
      push_order_status: listen(OrderStatusChanged, (news) => {
        heard[instance]?.push(news);
      }),
    }),
  });

let env: Record<string, string>;
const running: RunningService[] = [];
const vhost = 'simplebank_test_chassis_live';

const liveQueues = async () => {
  const { stdout } = await rabbitmqctl(['-q', 'list_queues', '-p', vhost, 'name']);
  return stdout.split('\n').filter((name) => name.startsWith('live-'));
};

beforeAll(async () => {
  env = await testEnvironment('chassis_live');
  for (const instance of ['a', 'b'] as const)
    running.push(await startService(listener(instance), { env, listen: false }));
  await waitFor('both listeners to be ready', () => running.every((r) => r.context.broker.ready));
});

afterAll(async () => {
  for (const service of running) await service.stop();
});

describe('live events', () => {
  it('reach every running instance, each on a queue of its own', async () => {
    const news: News = { ...OrderStatusChanged.example, status: 'executed' };
    await publishEvent(env.AMQP_URL as string, OrderStatusChanged, news);
    await waitFor('both instances to hear it', () => heard.a?.length === 1 && heard.b?.length === 1);
    expect(heard.a).toEqual([news]);
    expect(heard.b).toEqual([news]);
    const queues = await liveQueues().catch(() => undefined);
    // rabbitmqctl is only there when the broker is local (or RABBITMQCTL reaches its container)
    if (queues) {
      expect(queues).toHaveLength(2);
      for (const queue of queues)
        expect(queue).toMatch(/^live-orders-order_status_changed--gateway\.push_order_status\.[0-9a-f]{8}$/);
    }
  });

  it('an invalid one is dropped, and the listener goes on', async () => {
    await publishEvent(env.AMQP_URL as string, OrderStatusChanged, { orderId: 'nope' } as unknown as News);
    const good: News = { ...OrderStatusChanged.example, status: 'failed', reason: 'insufficient_shares' };
    await publishEvent(env.AMQP_URL as string, OrderStatusChanged, good);
    await waitFor('the good one', () => heard.a?.at(-1)?.status === 'failed');
    expect(heard.a?.map((n) => n.status)).toEqual(['executed', 'failed']);
  });

  it("an instance's queue goes away when it stops", async () => {
    const stopped = running.pop() as RunningService;
    await stopped.stop();
    const queues = await liveQueues().catch(() => undefined);
    if (queues) expect(queues).toHaveLength(1);
  });

  it('are listened to, not consumed as saga steps (and the other way round)', () => {
    expect(() => on(OrderStatusChanged, async () => undefined)).toThrow(/listen\(\)/);
    expect(() => listen(OrderCreated, () => undefined)).toThrow(/on\(\)/);
  });
});

describe('the event contracts', () => {
  it('a service publishes only the events it declares; live news gets no outbox row', async () => {
    const queries: string[] = [];
    const tx = { query: async (sql: string) => queries.push(sql) && { rows: [] } } as never;
    const buffer = new OutboxBuffer('orders', [OrderCreated]);
    const publish = buffer.publisher({ correlationId: 'c', causationId: null });
    await publish(OrderCreated, OrderCreated.example);
    await buffer.write(tx);
    expect(queries.some((sql) => sql.includes('INSERT INTO outbox'))).toBe(true);
    expect(buffer.saga.map((m) => m.type)).toEqual(['OrderCreated']);
    expect(buffer.live).toEqual([]);
    const news = new OutboxBuffer('orders', [OrderStatusChanged]);
    await news.publisher({ correlationId: 'c', causationId: null })(
      OrderStatusChanged,
      OrderStatusChanged.example,
    );
    expect(news.live.map((m) => m.type)).toEqual(['OrderStatusChanged']);
    expect(news.saga).toEqual([]);
    await expect(publish(OrderStatusChanged, OrderStatusChanged.example)).rejects.toThrow(
      'orders publishes OrderStatusChanged without declaring it',
    );
  });

  it("names what a service does that the contracts' subscriptions do not describe", () => {
    expect(
      undescribedTopology('fees', [FeeCharged], [{ event: OrderCreated, handler: 'charge_fee' }]),
    ).toEqual([]);
    expect(
      undescribedTopology('fees', [OrderCreated], [{ event: OrderCreated, handler: 'audit_order' }]),
    ).toEqual([
      'publishes OrderCreated, whose producer is orders',
      'consumes OrderCreated in audit_order, not a subscription of the contracts',
    ]);
  });
});
