import { randomUUID } from 'node:crypto';
import { type RunningService, startService } from '@simplebank/chassis';
import { testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import gateway from '../src/service.ts';
import { closedPort } from './network.ts';
import { bearer } from './system.ts';

// Gateways with low limits, on real Redis and RabbitMQ; their upstreams are down, which makes no
// difference to what is tested here (a 503 counts against the limit like any answer).
let env: Record<string, string>;
const started: RunningService[] = [];

beforeAll(async () => {
  const nowhere = `http://127.0.0.1:${await closedPort()}`;
  env = {
    ...(await testEnvironment('gateway_limits')),
    ORDERS_URL: nowhere,
    ACCOUNTS_URL: nowhere,
    FEES_URL: nowhere,
    MARKET_URL: nowhere,
  };
});

afterAll(async () => {
  for (const service of started) await service.stop();
});

async function startGateway(settings: Record<string, string>) {
  const prefix = `gateway-test-${randomUUID()}:`;
  const service = await startService(gateway, {
    env: { ...env, REDIS_PREFIX: prefix, ...settings },
    listen: false,
  });
  started.push(service);
  return { service, prefix };
}

describe('rate limits per customer, in Redis', () => {
  let limited: RunningService;
  let prefix: string;
  beforeAll(async () => {
    ({ service: limited, prefix } = await startGateway({
      RATE_LIMIT_MAX: '3',
      RATE_LIMIT_WINDOW_MS: '60000',
      AUTH_RATE_LIMIT_MAX: '2',
    }));
  });

  it('counts a customer’s requests, with RateLimit-* headers, and answers 429 rate_limited past the limit', async () => {
    const alice = await bearer(`alice-${randomUUID().slice(0, 8)}`);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await limited.app.inject({ url: '/accounts', headers: alice }));
    expect(answers.map((a) => a.statusCode)).toEqual([503, 503, 503, 429]);
    expect(answers.map((a) => a.headers['ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    for (const answer of answers) {
      expect(answer.headers['ratelimit-limit']).toBe('3');
      expect(Number(answer.headers['ratelimit-reset'])).toBeGreaterThan(0);
      expect(Number(answer.headers['ratelimit-reset'])).toBeLessThanOrEqual(60);
    }
    const refused = answers[3];
    expect(refused?.json()).toEqual({
      error: { code: 'rate_limited', message: expect.stringMatching(/retry in/) },
    });
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThan(0);

    // every route of the API shares the customer's budget
    const other = await limited.app.inject({ url: '/market/quotes', headers: alice });
    expect(other.statusCode).toBe(429);
  });

  it('keeps customers apart, whatever address they come from', async () => {
    const [bob, carol] = await Promise.all([
      bearer(`bob-${randomUUID().slice(0, 8)}`),
      bearer(`carol-${randomUUID().slice(0, 8)}`),
    ]);
    for (let i = 0; i < 3; i++)
      await limited.app.inject({ url: '/accounts', headers: bob, remoteAddress: '10.0.0.1' });
    expect(
      (await limited.app.inject({ url: '/accounts', headers: bob, remoteAddress: '10.0.0.2' })).statusCode,
    ).toBe(429);
    const fresh = await limited.app.inject({ url: '/accounts', headers: carol, remoteAddress: '10.0.0.1' });
    expect(fresh.statusCode).toBe(503);
    expect(fresh.headers['ratelimit-remaining']).toBe('2');
  });

  it('counts callers without a valid token by IP address', async () => {
    const ip = '192.0.2.10';
    const statuses = [];
    for (const authorization of [undefined, 'Bearer forged', undefined, undefined]) {
      const headers = authorization === undefined ? {} : { authorization };
      statuses.push((await limited.app.inject({ url: '/accounts', headers, remoteAddress: ip })).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const elsewhere = await limited.app.inject({ url: '/market/quotes', remoteAddress: '192.0.2.11' });
    expect(elsewhere.statusCode).toBe(503);
  });

  it('keeps the count in Redis under the gateway prefix, for as long as the window', async () => {
    const username = `dave-${randomUUID().slice(0, 8)}`;
    await limited.app.inject({ url: '/accounts', headers: await bearer(username) });
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { keyPrefix: prefix });
    try {
      const key = `rate-limit:customer:${username}`;
      expect(await redis.get(key)).toBe('1');
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    } finally {
      await redis.quit();
    }
  });

  it('limits sign-ins per IP address more tightly', async () => {
    const ip = '198.51.100.7';
    const credentials = { username: 'alice', password: 'alice-password' };
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(
        (
          await limited.app.inject({
            method: 'POST',
            url: '/auth/token',
            payload: credentials,
            remoteAddress: ip,
          })
        ).statusCode,
      );
    }
    expect(statuses).toEqual([503, 503, 429]); // account-transactions is down here
  });

  it('leaves health, version and metrics alone', async () => {
    for (let i = 0; i < 5; i++) {
      for (const url of ['/health/live', '/health/ready', '/version', '/metrics']) {
        const response = await limited.app.inject({ url, remoteAddress: '203.0.113.5' });
        expect(response.statusCode).toBe(200);
        expect(response.headers['ratelimit-limit']).toBeUndefined();
      }
    }
  });
});

describe('back-pressure', () => {
  it('answers 503 service_unavailable with Retry-After while the process is over a threshold', async () => {
    // a heap of more than 1 byte is always "too much": under pressure from the first sample on
    const { service } = await startGateway({
      PRESSURE_MAX_HEAP_USED_BYTES: '1',
      PRESSURE_SAMPLE_INTERVAL_MS: '50',
      PRESSURE_RETRY_AFTER_S: '7',
    });
    const headers = await bearer('alice');
    const response = await waitFor('the gateway to feel the pressure', async () => {
      const answer = await service.app.inject({ url: '/accounts/acc-alice', headers });
      return answer.statusCode === 503 && answer.json().error.message.includes('overloaded')
        ? answer
        : undefined;
    });
    expect(response.json()).toEqual({
      error: { code: 'service_unavailable', message: 'the gateway is overloaded; retry later' },
    });
    expect(response.headers['retry-after']).toBe('7');
    for (const [method, url] of [
      ['POST', '/auth/token'],
      ['GET', '/market/quotes'],
      ['POST', '/shares/sell'],
    ] as const) {
      const answer = await service.app.inject({ method, url });
      expect(answer.statusCode).toBe(503);
      expect(answer.headers['retry-after']).toBe('7');
    }
    // health, version and metrics still answer: an overloaded gateway is alive, not dead (ready
    // once its consumers are up, which pressure does not hold back)
    for (const url of ['/health/live', '/health/ready', '/version', '/metrics'])
      await waitFor(`${url} to answer 200 under pressure`, async () => {
        return (await service.app.inject({ url })).statusCode === 200;
      });
  });
});
