import { randomUUID } from 'node:crypto';
import { adminHeaders, metricValue, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { createParser } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type System, startSystem, urlOf } from './system.ts';

// Tokens that end (sign-out, a new password, expiry) and live streams that end with them, on a
// listening gateway in front of the real services (system.ts): real RabbitMQ, PostgreSQL, Redis.
const TTL_SECONDS = 6;
const MAX_STREAMS = 2;
let system: System;
let gatewayUrl: string;

beforeAll(async () => {
  system = await startSystem(
    await testEnvironment('gateway_sessions'),
    'gateway_sessions',
    {
      JWT_TTL_SECONDS: String(TTL_SECONDS),
      LIVE_MAX_STREAMS_PER_CUSTOMER: String(MAX_STREAMS),
      LIVE_QUOTES_INTERVAL_MS: '200',
    },
    { listen: true },
  );
  gatewayUrl = urlOf(system.gateway);
}, 60_000);

afterAll(async () => {
  // fetch's pooled keep-alive sockets would hold the server's close for its keep-alive timeout
  system?.gateway.app.server.closeAllConnections();
  await system?.stop();
}, 30_000);

const call = async (
  method: string,
  path: string,
  { token, body }: { token?: string; body?: unknown } = {},
) => {
  const response = await fetch(`${gatewayUrl}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
};

const signIn = async (username: string, password: string) =>
  call('POST', '/auth/token', { body: { username, password } });

/** A customer of the test's own with one account; the password is `<username>-password`. */
async function newCustomer() {
  const username = `cust-${randomUUID().slice(0, 8)}`;
  const accountId = `acc-${randomUUID().slice(0, 8)}`;
  const opened = await system.accounts.app.inject({
    method: 'POST',
    url: '/accounts',
    headers: adminHeaders,
    payload: { account_id: accountId, owner: username, password: `${username}-password`, cash: '100.00' },
  });
  expect(opened.statusCode).toBe(201);
  const signedIn = await signIn(username, `${username}-password`);
  expect(signedIn.status).toBe(200);
  return { username, accountId, token: signedIn.body.access_token as string };
}

const openStreams = () => metricValue(system.gateway, 'gateway_live_streams');

describe('revocation', () => {
  it('sign-out ends the token: the same token is 401 afterwards; signing in again works', async () => {
    const customer = await newCustomer();
    expect((await call('GET', '/accounts', { token: customer.token })).status).toBe(200);
    const out = await call('POST', '/auth/sign-out', { token: customer.token });
    expect(out.status).toBe(204);
    const after = await call('GET', '/accounts', { token: customer.token });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('unauthorized');
    expect((await call('POST', '/auth/sign-out', { token: customer.token })).status).toBe(401);
    const again = await signIn(customer.username, `${customer.username}-password`);
    expect((await call('GET', '/accounts', { token: again.body.access_token })).status).toBe(200);
  });

  it('a password change needs the old password, ends every token, and the new password works', async () => {
    const customer = await newCustomer();
    const other = (await signIn(customer.username, `${customer.username}-password`)).body.access_token;
    const wrong = await call('PUT', '/auth/password', {
      token: customer.token,
      body: { old_password: 'not my password', new_password: 'a brand new password' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('invalid_credentials');
    expect((await call('GET', '/accounts', { token: other })).status).toBe(200);

    const changed = await call('PUT', '/auth/password', {
      token: customer.token,
      body: { old_password: `${customer.username}-password`, new_password: 'a brand new password' },
    });
    expect(changed.status).toBe(200);
    for (const old of [customer.token, other])
      expect((await call('GET', '/accounts', { token: old })).status).toBe(401);
    expect((await call('GET', '/accounts', { token: changed.body.access_token })).status).toBe(200);
    expect((await signIn(customer.username, `${customer.username}-password`)).status).toBe(401);
    const fresh = await signIn(customer.username, 'a brand new password');
    expect(fresh.status).toBe(200);
    expect((await call('GET', '/accounts', { token: fresh.body.access_token })).status).toBe(200);
  });

  it('refuses a new password that is too short, and an unknown field, as a 400', async () => {
    const customer = await newCustomer();
    for (const body of [
      { old_password: `${customer.username}-password`, new_password: 'short' },
      { old_password: `${customer.username}-password`, new_password: 'long enough', admin: true },
    ]) {
      const answer = await call('PUT', '/auth/password', { token: customer.token, body });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('validation_failed');
    }
  });
});

/** A stream's events, read until it ends (or `until` says so); fails after `timeoutMs`. */
async function readStream(
  response: Response,
  until: (events: { event: string; data: unknown }[]) => boolean = () => false,
  timeoutMs = 20_000,
) {
  const events: { event: string; data: unknown }[] = [];
  const reader = (response.body as ReadableStream<Uint8Array>)
    .pipeThrough(new TextDecoderStream())
    .getReader();
  const timer = setTimeout(() => reader.cancel(new Error('the stream did not end in time')), timeoutMs);
  const parser = createParser({
    onEvent: ({ event, data }) => events.push({ event: event ?? 'message', data: JSON.parse(data) }),
  });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { events, ended: true };
      parser.feed(value);
      if (until(events)) return { events, ended: false };
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => undefined);
  }
}

const stream = (accountId: string, token: string, signal?: AbortSignal) =>
  fetch(`${gatewayUrl}/accounts/${accountId}/stream`, {
    headers: { authorization: `Bearer ${token}` },
    ...(signal ? { signal } : {}),
  });

describe('live streams', () => {
  it('ends a stream when its token expires, with an end event saying so', async () => {
    const customer = await newCustomer();
    const { exp } = JSON.parse(Buffer.from(customer.token.split('.')[1] as string, 'base64url').toString());
    const response = await stream(customer.accountId, customer.token);
    expect(response.status).toBe(200);
    const { events, ended } = await readStream(response, () => false, (TTL_SECONDS + 10) * 1000);
    expect(ended).toBe(true);
    expect(events.some((e) => e.event === 'quotes')).toBe(true);
    expect(events.at(-1)).toEqual({ event: 'end', data: { reason: 'token_expired' } });
    // not before the token's expiry (seconds), nor long after
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 50);
    expect(Date.now()).toBeLessThan(exp * 1000 + 3000);
    await waitFor('the stream to be torn down', async () => (await openStreams()) === 0);
  }, 30_000);

  it('ends a stream when its customer signs out', async () => {
    const customer = await newCustomer();
    const response = await stream(customer.accountId, customer.token);
    expect(response.status).toBe(200);
    const reading = readStream(response);
    expect((await call('POST', '/auth/sign-out', { token: customer.token })).status).toBe(204);
    const { events, ended } = await reading;
    expect(ended).toBe(true);
    expect(events.at(-1)).toEqual({ event: 'end', data: { reason: 'token_revoked' } });
    await waitFor('the stream to be torn down', async () => (await openStreams()) === 0);
  });

  it(`lets a customer hold ${MAX_STREAMS} streams; one more is 429 too_many_streams until one closes`, async () => {
    const customer = await newCustomer();
    const controllers = Array.from({ length: MAX_STREAMS }, () => new AbortController());
    const open = await Promise.all(
      controllers.map((c) => stream(customer.accountId, customer.token, c.signal)),
    );
    expect(open.map((r) => r.status)).toEqual(Array(MAX_STREAMS).fill(200));
    const refused = await call('GET', `/accounts/${customer.accountId}/stream`, { token: customer.token });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('too_many_streams');
    // another customer is not affected
    const someoneElse = await newCustomer();
    const theirs = new AbortController();
    expect((await stream(someoneElse.accountId, someoneElse.token, theirs.signal)).status).toBe(200);
    theirs.abort();

    controllers[0]?.abort();
    const again = new AbortController();
    await waitFor('a stream of the customer to close', async () => {
      const response = await stream(customer.accountId, customer.token, again.signal);
      if (response.status === 200) return true;
      await response.body?.cancel();
      return false;
    });
    again.abort();
    for (const c of controllers) c.abort();
    await waitFor('every stream to be torn down', async () => (await openStreams()) === 0);
  });

  it('leaks nothing for streams whose client leaves early, during set-up or after the headers', async () => {
    const customers = await Promise.all(Array.from({ length: 8 }, () => newCustomer()));
    const attempts = customers.flatMap((customer, i) =>
      Array.from({ length: 6 }, async (_, j) => {
        const controller = new AbortController();
        // 0–5 ms: before the gateway has checked the account (set-up); otherwise right after the headers
        const early = (i + j) % 2 === 0;
        if (early) setTimeout(() => controller.abort(), j);
        try {
          const response = await stream(customer.accountId, customer.token, controller.signal);
          if (response.status !== 200) await response.body?.cancel();
        } catch {
          // aborted before an answer
        } finally {
          controller.abort();
        }
      }),
    );
    await Promise.all(attempts);
    await waitFor('every aborted stream to be torn down', async () => (await openStreams()) === 0, {
      timeoutMs: 10_000,
    });
    // and the customers can open streams again: nothing of theirs is still counted
    const first = customers[0] as (typeof customers)[number];
    const token = (await signIn(first.username, `${first.username}-password`)).body.access_token;
    const controllers = Array.from({ length: MAX_STREAMS }, () => new AbortController());
    const open = await Promise.all(controllers.map((c) => stream(first.accountId, token, c.signal)));
    expect(open.map((r) => r.status)).toEqual(Array(MAX_STREAMS).fill(200));
    for (const c of controllers) c.abort();
    await waitFor('the last streams to be torn down', async () => (await openStreams()) === 0);
  });
});
