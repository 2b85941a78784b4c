import { randomUUID } from 'node:crypto';
import { type RunningService, startService } from '@simplebank/chassis';
import { TcpProxy, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import gateway from '../src/service.ts';
import { closedPort } from './network.ts';
import { bearer, startAccounts, urlOf } from './system.ts';

// Gateways on real Redis and RabbitMQ, with a real account-transactions behind them for sign-in
// (orders, fees and market are down: a 503 counts against a limit like any other answer).
let env: Record<string, string>;
let accounts: RunningService;
const started: RunningService[] = [];
const proxies: TcpProxy[] = [];
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

beforeAll(async () => {
  const nowhere = `http://127.0.0.1:${await closedPort()}`;
  env = {
    ...(await testEnvironment('gateway_abuse')),
    ORDERS_URL: nowhere,
    FEES_URL: nowhere,
    MARKET_URL: nowhere,
  };
  accounts = await startAccounts(env, 'gateway_abuse');
  env.ACCOUNTS_URL = urlOf(accounts);
});

afterAll(async () => {
  for (const service of started) await service.stop();
  for (const proxy of proxies) await proxy.close();
  await accounts?.stop();
});

async function startGateway(settings: Record<string, string>) {
  const service = await startService(gateway, {
    env: { ...env, REDIS_PREFIX: `gateway-test-${randomUUID()}:`, ...settings },
    listen: false,
  });
  started.push(service);
  return service;
}

async function newCustomer() {
  const username = `cust-${randomUUID().slice(0, 8)}`;
  const password = `pw-${randomUUID()}`;
  const created = await accounts.app.inject({
    method: 'POST',
    url: '/customers',
    payload: { username, password },
  });
  expect(created.statusCode).toBe(201);
  return { username, password };
}

const signIn = (service: RunningService, body: { username: string; password: string }, ip: string) =>
  service.app.inject({ method: 'POST', url: '/auth/token', payload: body, remoteAddress: ip });

describe('client addresses behind a proxy (TRUSTED_PROXIES)', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startGateway({ RATE_LIMIT_MAX: '3', TRUSTED_PROXIES: '10.1.0.0/16' });
  });

  const quotes = (remoteAddress: string, forwardedFor?: string) =>
    service.app.inject({
      url: '/market/quotes',
      remoteAddress,
      headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
    });

  it('gives each client behind a trusted proxy its own bucket, by X-Forwarded-For', async () => {
    const ingress = '10.1.2.3';
    const first = [];
    for (let i = 0; i < 4; i++) first.push((await quotes(ingress, '203.0.113.1')).statusCode);
    expect(first).toEqual([503, 503, 503, 429]);
    // another client through the same proxy: a full budget of its own
    const other = await quotes(ingress, '203.0.113.2');
    expect(other.statusCode).toBe(503);
    expect(other.headers['ratelimit-remaining']).toBe('2');
    // a forged hop in front of the real client changes nothing: the last untrusted address counts
    expect((await quotes(ingress, '198.51.100.9, 203.0.113.1')).statusCode).toBe(429);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const stranger = '192.0.2.77';
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await quotes(stranger, `203.0.113.${100 + i}`)).statusCode);
    expect(statuses).toEqual([503, 503, 503, 429]);
  });
});

describe('sign-in budget per username', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startGateway({ AUTH_USERNAME_FAILURES_MAX: '3', AUTH_RATE_LIMIT_MAX: '100' });
  });

  it('stops a guess at one account spread over many addresses; its owner still signs in from a known one', async () => {
    const customer = await newCustomer();
    // the customer signs in from home once: that address is known from now on
    expect((await signIn(service, customer, '198.51.100.1')).statusCode).toBe(200);

    const guesses = [];
    for (let i = 0; i < 5; i++)
      guesses.push(await signIn(service, { ...customer, password: `guess-${i}` }, `203.0.113.${i + 1}`));
    expect(guesses.map((g) => g.statusCode)).toEqual([401, 401, 401, 429, 429]);
    expect(guesses[3]?.json()).toEqual({
      error: { code: 'rate_limited', message: expect.stringMatching(/failed sign-ins/) },
    });
    expect(Number(guesses[3]?.headers['retry-after'])).toBeGreaterThan(0);
    // the right password from a new address is refused too while the budget is spent…
    expect((await signIn(service, customer, '203.0.113.50')).statusCode).toBe(429);
    // …but not from the address the customer signed in from before: no lock-out by strangers
    expect((await signIn(service, customer, '198.51.100.1')).statusCode).toBe(200);
    // and other customers are not touched
    expect((await signIn(service, await newCustomer(), '203.0.113.1')).statusCode).toBe(200);
  });

  it('counts failures only: a customer who signs in many times is never limited by it', async () => {
    const customer = await newCustomer();
    for (let i = 0; i < 6; i++)
      expect((await signIn(service, customer, `203.0.113.${60 + i}`)).statusCode).toBe(200);
  });
});

describe('sign-in limits while Redis is away', () => {
  it('counts sign-ins in the process instead of letting them all through', async () => {
    const proxy = await TcpProxy.start({
      host: new URL(REDIS_URL).hostname,
      port: Number(new URL(REDIS_URL).port || 6379),
    });
    proxies.push(proxy);
    const service = await startGateway({
      REDIS_URL: proxy.through(REDIS_URL),
      AUTH_RATE_LIMIT_MAX: '3',
      AUTH_USERNAME_FAILURES_MAX: '2',
    });
    await proxy.cut();
    // Redis is a soft dependency: the gateway stays ready and says so in /health
    await waitFor('the gateway to see Redis gone', async () => {
      const health = (await service.ops.inject({ url: '/health' })).json() as { checks?: { redis?: string } };
      return health.checks?.redis === 'down';
    });

    // per IP address: the fourth attempt from one address is refused
    const fromOne = [];
    for (let i = 0; i < 4; i++)
      fromOne.push(
        (await signIn(service, { username: `nobody-${i}`, password: 'x' }, '192.0.2.1')).statusCode,
      );
    expect(fromOne).toEqual([401, 401, 401, 429]);

    // per username: the third failure for one username, from anywhere, is refused
    const customer = await newCustomer();
    const guesses = [];
    for (let i = 0; i < 3; i++)
      guesses.push(
        (await signIn(service, { ...customer, password: `guess-${i}` }, `192.0.2.${10 + i}`)).statusCode,
      );
    expect(guesses).toEqual([401, 401, 429]);
  });
});

describe('order budget per customer', () => {
  it('refuses a customer’s orders past ORDER_RATE_LIMIT_MAX with 429 and Retry-After, buy and sell together', async () => {
    const service = await startGateway({ ORDER_RATE_LIMIT_MAX: '3', ORDER_RATE_LIMIT_WINDOW_MS: '60000' });
    const alice = await bearer(`alice-${randomUUID().slice(0, 8)}`);
    const order = (side: 'buy' | 'sell') =>
      service.app.inject({
        method: 'POST',
        url: `/shares/${side}`,
        headers: alice,
        payload: { account_id: 'acc-alice', symbol: 'ACME', quantity: 1 },
      });
    const answers = [await order('sell'), await order('buy'), await order('sell'), await order('buy')];
    expect(answers.slice(0, 3).map((a) => a.statusCode)).not.toContain(429);
    const refused = answers[3];
    expect(refused?.statusCode).toBe(429);
    expect(refused?.json()).toEqual({
      error: { code: 'rate_limited', message: expect.stringMatching(/retry in/) },
    });
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused?.headers['ratelimit-limit']).toBe('3');

    // the rest of the API keeps the general budget; another customer has an order budget of its own
    expect((await service.app.inject({ url: '/market/quotes', headers: alice })).statusCode).toBe(503);
    const bob = await bearer(`bob-${randomUUID().slice(0, 8)}`);
    const theirs = await service.app.inject({
      method: 'POST',
      url: '/shares/sell',
      headers: bob,
      payload: { account_id: 'acc-bob', symbol: 'ACME', quantity: 1 },
    });
    expect(theirs.statusCode).not.toBe(429);
  });
});
