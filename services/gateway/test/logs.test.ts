import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { RunningService } from '@simplebank/chassis';
import { testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from './network.ts';
import { startAccounts, urlOf } from './system.ts';

// The gateway as its own process, as in production, with its stdout (where every log line goes)
// captured at the most verbose level: whatever it is asked, no password and no token comes out.
const server = fileURLToPath(new URL('../src/server.ts', import.meta.url));
let accounts: RunningService;
let gateway: ChildProcess;
let output = '';
let url: string;

beforeAll(async () => {
  const env = await testEnvironment('gateway_logs');
  accounts = await startAccounts(env, 'gateway_logs');
  const nowhere = `http://127.0.0.1:${await closedPort()}`;
  gateway = spawn(process.execPath, ['--experimental-transform-types', '--no-warnings', server], {
    env: {
      ...env,
      LOG_LEVEL: 'trace',
      PORT: '0',
      REDIS_PREFIX: `gateway-test-${randomUUID()}:`,
      JWT_SECRET: 'a secret for the log test, 32 characters or more',
      ACCOUNTS_URL: urlOf(accounts),
      ORDERS_URL: nowhere,
      FEES_URL: nowhere,
      MARKET_URL: nowhere,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [gateway.stdout, gateway.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      output += chunk;
    });
  }
  url = await waitFor(
    'the gateway to listen',
    () => /"message":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1],
    { timeoutMs: 20_000 },
  );
  await waitFor('the gateway to be ready', async () => (await fetch(`${url}/health/ready`)).ok);
}, 30_000);

afterAll(async () => {
  if (gateway && gateway.exitCode === null) {
    const exited = once(gateway, 'exit');
    gateway.kill('SIGTERM');
    await exited;
  }
  await accounts?.stop();
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });

describe('the gateway’s logs', () => {
  it('never contain a password or a token, whatever happens to the request', {
    timeout: 30_000,
  }, async () => {
    const secrets: string[] = [];
    const password = (text: string) => {
      secrets.push(text);
      return text;
    };

    // a sign-in, then authenticated calls: answered, failing upstream (logged as failed), refused
    const signedIn = await post(
      '/auth/token',
      JSON.stringify({ username: 'alice', password: password('alice-password') }),
    );
    expect(signedIn.status).toBe(200);
    const token = ((await signedIn.json()) as { access_token: string }).access_token;
    secrets.push(token, token.split('.')[2] as string);
    const authorization = { authorization: `Bearer ${token}` };
    expect((await fetch(`${url}/accounts`, { headers: authorization })).status).toBe(200);
    expect((await fetch(`${url}/orders/${randomUUID()}`, { headers: authorization })).status).toBe(503);
    const order = JSON.stringify({ account_id: 'acc-alice', symbol: 'ACME', quantity: 1 });
    expect((await post('/shares/sell', order, authorization)).status).toBe(503);

    // sign-ins that fail: a wrong password, a body that breaks the schema, JSON that does not parse
    const wrong = await post(
      '/auth/token',
      JSON.stringify({ username: 'alice', password: password('Wr0ng-guess-1') }),
    );
    expect(wrong.status).toBe(401);
    const extra = JSON.stringify({ username: 'alice', password: password('Wr0ng-guess-2'), admin: true });
    expect((await post('/auth/token', extra)).status).toBe(400);
    expect(
      (await post('/auth/token', `{"username":"alice","password":"${password('Wr0ng-guess-3')}" x`)).status,
    ).toBe(400);
    // a forged token and a token under another scheme
    const forged = `${token.slice(0, -4)}AAAA`;
    secrets.push(forged);
    expect((await fetch(`${url}/accounts`, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(
      401,
    );
    const basic = Buffer.from(`alice:${password('Wr0ng-guess-4')}`).toString('base64');
    secrets.push(basic);
    expect((await fetch(`${url}/accounts`, { headers: { authorization: `Basic ${basic}` } })).status).toBe(
      401,
    );

    // stop it, so everything it wrote has been flushed
    const exited = once(gateway, 'exit');
    gateway.kill('SIGTERM');
    await exited;

    // the capture works: the sign-ins and the failed requests are there…
    expect(output).toContain('"message":"customer signed in"');
    expect(output).toContain('"message":"sign-in refused"');
    expect(output).toContain('"message":"request failed"');
    expect(output).toContain('"message":"stopped"');
    // …and no secret is
    for (const secret of secrets) expect(output).not.toContain(secret);
    expect(output.toLowerCase()).not.toContain('bearer ');
  });
});
