import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, createMetrics, HttpError } from '@simplebank/chassis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { credentialChecker } from '../src/upstream/credentials.ts';
import { isUnavailable, Upstream } from '../src/upstream/upstream.ts';

// A stand-in for account-transactions' POST /customers/authenticate, answering as each test says.
interface Hit {
  method: string;
  url: string;
  body: string;
}
let hits: Hit[] = [];
let behave: (response: ServerResponse, body: { username?: string; password?: string }) => void;
let server: Server;
let baseUrl: string;
const hanging: ServerResponse[] = [];

const answer = (status: number, body?: unknown) => (response: ServerResponse) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(body === undefined ? '' : JSON.stringify(body));
};

beforeAll(async () => {
  server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      hits.push({ method: request.method ?? '', url: request.url ?? '', body });
      behave(response, JSON.parse(body || '{}'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const response of hanging) response.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  hits = [];
});

/** The checker over an Upstream of its own, with its metrics and a log the test reads. */
function checker(timeoutMs = 1000, breaker = { volumeThreshold: 10, resetTimeoutMs: 60_000 }) {
  const lines: { message: string; [key: string]: unknown }[] = [];
  const owner = {
    log: createLogger('gateway', 'debug', {
      destination: { write: (l: string) => lines.push(JSON.parse(l)) },
    }),
    metrics: createMetrics('gateway'),
  };
  const accounts = new Upstream('account-transactions', baseUrl, timeoutMs, owner, { breaker });
  return {
    accounts,
    check: credentialChecker(accounts),
    lines,
    metrics: () => owner.metrics.registry.metrics(),
  };
}

describe('sign-in check through the account-transactions upstream', () => {
  it("is the customer's token version for the right password, undefined for a 401, with the outcomes in /metrics", async () => {
    const { check, metrics, lines } = checker();
    behave = (response, { username, password }) =>
      password === 'right-password'
        ? answer(200, { username, token_version: 3 })(response)
        : answer(401, { error: { code: 'invalid_credentials', message: 'wrong username or password' } })(
            response,
          );
    expect(await check({ username: 'alice', password: 'right-password' })).toBe(3);
    expect(await check({ username: 'alice', password: 'wrong-password' })).toBeUndefined();
    expect(hits).toEqual([
      expect.objectContaining({ method: 'POST', url: '/customers/authenticate' }),
      expect.objectContaining({ method: 'POST', url: '/customers/authenticate' }),
    ]);
    expect(JSON.parse(hits[0]?.body ?? '')).toEqual({ username: 'alice', password: 'right-password' });
    const text = await metrics();
    expect(text).toMatch(
      /http_client_calls_total\{target="account-transactions",method="POST",outcome="ok",service="gateway"\} 1/,
    );
    expect(text).toMatch(
      /http_client_calls_total\{target="account-transactions",method="POST",outcome="client_error",service="gateway"\} 1/,
    );
    expect(JSON.stringify(lines)).not.toContain('password');
  });

  it('never opens the circuit for wrong passwords: a 401 is an answer', async () => {
    const { accounts, check } = checker(1000, { volumeThreshold: 2, resetTimeoutMs: 60_000 });
    behave = answer(401, { error: { code: 'invalid_credentials', message: 'wrong username or password' } });
    for (let i = 0; i < 10; i++)
      expect(await check({ username: 'alice', password: 'guess' })).toBeUndefined();
    expect(accounts.circuit).toBe('closed');
  });

  it('is not tried again after a 5xx (a retry would double the hashing under load), a 503', async () => {
    const { check, metrics } = checker();
    behave = answer(500, { error: { code: 'internal_error', message: 'internal error' } });
    const error = await check({ username: 'alice', password: 'pw' }).catch((e: unknown) => e);
    expect(hits).toHaveLength(1);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ statusCode: 503, code: 'service_unavailable' });
    expect(isUnavailable(error)).toBe(true);
    expect(await metrics()).not.toMatch(/http_client_retries_total\{target="account-transactions"/);
  });

  it('gives up on an account-transactions that does not answer in time', async () => {
    const { check } = checker(100);
    behave = (response) => {
      hanging.push(response);
    };
    const started = Date.now();
    await expect(check({ username: 'alice', password: 'pw' })).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: 'account-transactions is unavailable: no answer within 100 ms',
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('answers at once behind an open circuit, and says so in /metrics and the log', async () => {
    const { accounts, check, lines, metrics } = checker(1000, { volumeThreshold: 2, resetTimeoutMs: 60_000 });
    behave = answer(503);
    for (let i = 0; i < 2; i++)
      await expect(check({ username: 'alice', password: 'pw' })).rejects.toMatchObject({ statusCode: 503 });
    expect(accounts.circuit).toBe('open');
    hits = [];
    await expect(check({ username: 'alice', password: 'pw' })).rejects.toMatchObject({
      statusCode: 503,
      message: 'account-transactions is unavailable: circuit open',
    });
    expect(hits).toHaveLength(0);
    expect(lines.filter((l) => l.message === 'circuit breaker opened')).toEqual([
      expect.objectContaining({ target: 'account-transactions' }),
    ]);
    expect(await metrics()).toMatch(
      /circuit_breaker_state\{target="account-transactions",service="gateway"\} 2/,
    );
  });

  it('treats another 4xx, or an answer for someone else, as account-transactions unavailable', async () => {
    const { check } = checker();
    behave = answer(400, { error: { code: 'validation_failed', message: 'body/username bad' } });
    await expect(check({ username: 'alice', password: 'pw' })).rejects.toMatchObject({
      statusCode: 503,
      message: 'account-transactions is unavailable: answered 400',
    });
    behave = answer(200, { username: 'mallory' });
    await expect(check({ username: 'alice', password: 'pw' })).rejects.toMatchObject({
      statusCode: 503,
      message: 'account-transactions is unavailable: answered for another customer',
    });
  });
});
