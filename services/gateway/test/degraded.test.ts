import { randomUUID } from 'node:crypto';
import { type RunningService, startService } from '@simplebank/chassis';
import { TcpProxy, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import gateway from '../src/service.ts';
import { closedPort } from './network.ts';
import { bearer, startAccounts, urlOf } from './system.ts';

// Readiness means "can serve": Redis and the broker are soft dependencies of the gateway. With one
// cut off (a TCP proxy in front of the shared server, never the server itself) it stays ready,
// says `degraded` in /health, and read-only calls keep working.
let accounts: RunningService;
let service: RunningService;
let redis: TcpProxy;
let broker: TcpProxy;

beforeAll(async () => {
  const env = await testEnvironment('gateway_degraded');
  accounts = await startAccounts(env, 'gateway_degraded');
  const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  redis = await TcpProxy.start({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
  const amqpUrl = new URL(env.AMQP_URL as string);
  broker = await TcpProxy.start({ host: amqpUrl.hostname, port: Number(amqpUrl.port || 5672) });
  const nowhere = `http://127.0.0.1:${await closedPort()}`;
  service = await startService(gateway, {
    env: {
      ...env,
      REDIS_URL: redis.through(redisUrl.toString()),
      AMQP_URL: broker.through(amqpUrl.toString()),
      AMQP_HEARTBEAT_SECONDS: '1',
      REDIS_PREFIX: `gateway-test-${randomUUID()}:`,
      ACCOUNTS_URL: urlOf(accounts),
      ORDERS_URL: nowhere,
      FEES_URL: nowhere,
      MARKET_URL: nowhere,
    },
    listen: false,
  });
}, 30_000);

afterAll(async () => {
  await redis?.restore();
  await broker?.restore();
  await service?.stop();
  await accounts?.stop();
  await redis?.close();
  await broker?.close();
});

const health = async () => (await service.ops.inject({ url: '/health' })).json();
const ready = () => service.ops.inject({ url: '/health/ready' });
const readAccounts = async () => service.app.inject({ url: '/accounts', headers: await bearer('alice') });

describe('the gateway without a soft dependency', () => {
  it('is ready and says so with everything up', async () => {
    // the broker counts as up once the consumers run, a moment after the start
    await waitFor('every check up', async () => (await health()).status === 'ready', { timeoutMs: 15_000 });
    const answer = await ready();
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toEqual({ status: 'ready', checks: { redis: 'up', broker: 'up' } });
  });

  it.each([
    ['Redis', 'redis', () => redis],
    ['the broker', 'broker', () => broker],
  ] as const)(
    'with %s cut off: ready, /health degraded, reads still answered',
    async (_what, check, proxy) => {
      await waitFor('every check up', async () => (await health()).status === 'ready', { timeoutMs: 15_000 });
      await proxy().cut();
      try {
        await waitFor(`/health to see ${check} down`, async () => (await health()).checks[check] === 'down', {
          timeoutMs: 15_000,
        });
        expect((await health()).status).toBe('degraded');
        const answer = await ready();
        expect(answer.statusCode).toBe(200);
        expect(answer.json()).toMatchObject({ status: 'degraded', checks: { [check]: 'down' } });
        const read = await readAccounts();
        expect(read.statusCode, read.body).toBe(200);
        expect(read.json()).toMatchObject({
          accounts: [expect.objectContaining({ account_id: 'acc-alice' })],
        });
      } finally {
        await proxy().restore();
      }
      await waitFor(`${check} to be back`, async () => (await health()).status === 'ready', {
        timeoutMs: 20_000,
      });
    },
  );
});
