import { createHash, randomUUID } from 'node:crypto';
import { type RunningService, startService } from '@simplebank/chassis';
import { testEnvironment } from '@simplebank/chassis/testing';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_JWT_SECRET } from '../src/config.ts';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, Tokens } from '../src/edge/auth.ts';
import gateway from '../src/service.ts';
import { closedPort } from './network.ts';
import { bearer } from './system.ts';

// Real RabbitMQ and Redis; every upstream of this gateway points at a port nothing listens on.
// live.test.ts puts a gateway in front of the real services.
let service: RunningService;
let env: Record<string, string>;
let auth: { authorization: string };
const prefix = `gateway-test-${randomUUID()}:`;

beforeAll(async () => {
  const nowhere = `http://127.0.0.1:${await closedPort()}`;
  env = {
    ...(await testEnvironment('gateway')),
    REDIS_PREFIX: prefix,
    ORDERS_URL: nowhere,
    ACCOUNTS_URL: nowhere,
    FEES_URL: nowhere,
    MARKET_URL: nowhere,
  };
  service = await startService(gateway, { env, listen: false });
  auth = await bearer('alice');
});

afterAll(async () => {
  await service?.stop();
});

const ORDER = { account_id: 'acc-1', symbol: 'ACME', quantity: 10 };
type Method = 'GET' | 'POST' | 'DELETE';
/** A request as alice (with her token), unless `headers` says otherwise. */
const send = (method: Method, url: string, payload?: unknown, headers: Record<string, string> = auth) =>
  service.app.inject({
    method,
    url,
    headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(payload === undefined
      ? {}
      : { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }),
  });

describe('gateway: bad input is a 4xx with one error shape', () => {
  it('names the field that is wrong', async () => {
    const extra = await send('POST', '/shares/sell', { ...ORDER, price: '1.00' });
    expect(extra.json().error.message).toBe('body must NOT have additional properties (price)');
    const missing = await send('POST', '/shares/sell', { symbol: 'ACME', quantity: 10 });
    expect(missing.json().error.message).toBe("body must have required property 'account_id'");
    const fraction = await send('POST', '/shares/buy', { ...ORDER, quantity: 1.5 });
    expect(fraction.json().error.message).toBe('body/quantity must be integer');
  });

  it('rejects an empty body', async () => {
    const response = await service.app.inject({ method: 'POST', url: '/shares/sell', headers: auth });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('validation_failed');
  });

  it('rejects malformed JSON', async () => {
    const response = await send('POST', '/shares/sell', '{"account_id": "acc-1",');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'malformed_json', message: expect.any(String) } });
  });

  it('rejects a body that is not JSON', async () => {
    const response = await service.app.inject({
      method: 'POST',
      url: '/shares/buy',
      payload: 'account_id=acc-1',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.statusCode).toBe(415);
    expect(response.json().error.code).toBe('unsupported_media_type');
  });

  it.each([
    ['an unknown field', { ...ORDER, price: '1.00' }],
    ['quantity 0', { ...ORDER, quantity: 0 }],
    ['quantity -1', { ...ORDER, quantity: -1 }],
    ['quantity 1.5', { ...ORDER, quantity: 1.5 }],
    ['quantity "ten"', { ...ORDER, quantity: 'ten' }],
    // taken as sent, not coerced: these would otherwise be an order for 10 shares, 1 share, 0 shares
    ['quantity "10"', { ...ORDER, quantity: '10' }],
    ['quantity true', { ...ORDER, quantity: true }],
    ['quantity null', { ...ORDER, quantity: null }],
    ['a numeric account_id', { ...ORDER, account_id: 123 }],
    ['a quantity past the maximum', { ...ORDER, quantity: 1_000_001 }],
    ['no account_id', { symbol: 'ACME', quantity: 10 }],
    ['an account_id with a slash', { ...ORDER, account_id: '../admin' }],
    ['a lower-case symbol', { ...ORDER, symbol: 'acme' }],
    ['an account_id of 65 characters', { ...ORDER, account_id: 'a'.repeat(65) }],
    ['a symbol of 9 letters', { ...ORDER, symbol: 'ABCDEFGHI' }],
    ['a quantity past 2^53', { ...ORDER, quantity: 2 ** 60 }],
    ['an array', [ORDER]],
  ])('rejects an order with %s', async (_, body) => {
    for (const side of ['sell', 'buy']) {
      const response = await send('POST', `/shares/${side}`, body);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: { code: 'validation_failed', message: expect.any(String) } });
    }
  });

  it.each([
    ['/orders/not-a-uuid'],
    ['/orders'],
    ['/orders?account_id=acc-1&limit=0'],
    ['/orders?account_id=acc-1&limit=101'],
    ['/orders?account_id=acc-1&colour=red'],
    ['/orders?account_id=acc-1&before=2025-01-01T00:00:00.000Z'],
    ['/orders?account_id=acc-1&cursor='],
    ['/orders?account_id=acc-1&cursor=not%20a%20cursor'],
    [`/orders?account_id=acc-1&cursor=${'a'.repeat(257)}`],
    ['/accounts/acc$1'],
    [`/accounts/${'a'.repeat(65)}`],
    ['/accounts?owner=bob'],
    [`/orders/${randomUUID()}x`],
    ['/fees/estimate?side=hold&symbol=ACME&quantity=10'],
    ['/fees/estimate?side=sell&symbol=ACME&quantity=1.5'],
    ['/fees/estimate?side=sell&symbol=ACME'],
    ['/fees/estimate?side=sell&symbol=ACME&quantity=10&price=1.00'],
    ['/fees/estimate?side=sell&symbol=ACME&quantity=1000001'],
  ])('rejects GET %s', async (url) => {
    const response = await send('GET', url);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('validation_failed');
  });

  it.each([
    ['an empty key', ''],
    ['a key of 129 characters', 'k'.repeat(129)],
    ['a key with a space', 'my key'],
    ['a key with a non-ASCII letter', 'clé'],
  ])('rejects an Idempotency-Key with %s', async (_, key) => {
    const response = await send('POST', '/shares/sell', ORDER, { ...auth, 'idempotency-key': key });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toEqual({
      code: 'validation_failed',
      message: expect.stringMatching(/idempotency-key/),
    });
  });

  it.each([
    ['no username', { password: 'x' }],
    ['an empty password', { username: 'alice', password: '' }],
    ['a password of 129 characters', { username: 'alice', password: 'p'.repeat(129) }],
    ['a username of 65 characters', { username: 'u'.repeat(65), password: 'x' }],
    ['a username with a slash', { username: 'alice/bob', password: 'x' }],
    ['an unknown field', { username: 'alice', password: 'x', scope: 'admin' }],
    ['a numeric password', { username: 'alice', password: 1234 }],
  ])('rejects credentials with %s', async (_, body) => {
    const response = await send('POST', '/auth/token', body, {});
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('validation_failed');
  });

  it('refuses a body past 64 KiB', async () => {
    const response = await send('POST', '/shares/sell', { ...ORDER, account_id: 'a'.repeat(70_000) });
    expect(response.statusCode).toBe(413);
    expect(response.json().error.code).toBe('payload_too_large');
  });

  it('answers an unknown route with not_found', async () => {
    const response = await send('POST', '/shares/short', ORDER);
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('not_found');
  });
});

describe('gateway: upstreams that are down are a 503, never a crash', () => {
  it.each([
    ['POST', '/shares/sell', ORDER],
    ['POST', '/shares/buy', ORDER],
    ['GET', `/orders/${randomUUID()}`],
    ['DELETE', `/orders/${randomUUID()}`],
    ['GET', '/orders?account_id=acc-1&limit=10&cursor=WyIyMDI1LTAxLTAxVDAwOjAwOjAwLjAwMFoiXQ'],
    ['GET', '/accounts/acc-1'],
    ['GET', '/accounts'],
    ['GET', '/market/quotes'],
    ['GET', '/fees/estimate?side=buy&symbol=ACME&quantity=10'],
    ['POST', '/auth/token', { username: 'alice', password: 'alice-password' }],
  ] as const)('%s %s', async (method, url, body?: unknown) => {
    const response = await send(method, url, body);
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      error: { code: 'service_unavailable', message: expect.stringMatching(/is unavailable/) },
    });
  });

  it('frees an Idempotency-Key after a 5xx, so that a retry is tried again for real', async () => {
    const key = randomUUID();
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { keyPrefix: prefix });
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const response = await send('POST', '/shares/sell', ORDER, { ...auth, 'idempotency-key': key });
        expect(response.statusCode).toBe(503);
        expect(response.headers['idempotent-replayed']).toBeUndefined();
        expect(
          await redis.exists(`idempotency:alice:${createHash('sha256').update(key).digest('hex')}`),
        ).toBe(0);
      }
    } finally {
      await redis.quit();
    }
  });

  it('still answers health checks', async () => {
    const response = await service.ops.inject({ url: '/health/ready' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ready', checks: { redis: 'up', broker: 'up' } });
  });
});

describe('gateway: customers need a valid bearer token', () => {
  const PROTECTED = [
    ['POST', '/shares/sell', ORDER],
    ['POST', '/shares/buy', ORDER],
    ['GET', `/orders/${randomUUID()}`],
    ['DELETE', `/orders/${randomUUID()}`],
    ['GET', '/orders?account_id=acc-1'],
    ['GET', '/accounts/acc-1'],
    ['GET', '/accounts'],
  ] as const;

  it.each(PROTECTED)(
    '%s %s without a token: 401 unauthorized, WWW-Authenticate: Bearer',
    async (method, url, body?: unknown) => {
      const response = await send(method, url, body, {});
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="simplebank"');
      expect(response.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    },
  );

  const now = Math.floor(Date.now() / 1000);
  const secret = new TextEncoder().encode(DEVELOPMENT_JWT_SECRET);
  const signed = (claims: Record<string, unknown>, key = secret, alg = 'HS256') =>
    new SignJWT(claims).setProtectedHeader({ alg }).sign(key);
  const valid = { sub: 'alice', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: now, exp: now + 600 };
  const unsigned = (claims: Record<string, unknown>) =>
    `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;

  it.each([
    ['not a JWT', async () => 'Bearer not-a-token'],
    ['another scheme', async () => `Basic ${Buffer.from('alice:alice-password').toString('base64')}`],
    ['an empty bearer', async () => 'Bearer '],
    [
      'a token signed with another secret',
      async () => `Bearer ${await new Tokens('x'.repeat(32), 900).issue('alice')}`,
    ],
    [
      'an expired token',
      async () =>
        `Bearer ${await new Tokens(DEVELOPMENT_JWT_SECRET, 60).issue('alice', new Date(Date.now() - 120_000))}`,
    ],
    ['an unsigned token (alg none)', async () => `Bearer ${unsigned(valid)}`],
    ['a token of another issuer', async () => `Bearer ${await signed({ ...valid, iss: 'someone-else' })}`],
    ['a token for another audience', async () => `Bearer ${await signed({ ...valid, aud: 'another-api' })}`],
    ['a token without an expiry', async () => `Bearer ${await signed({ ...valid, exp: undefined })}`],
    ['a token without a subject', async () => `Bearer ${await signed({ ...valid, sub: undefined })}`],
    [
      'a token whose subject is no username',
      async () => `Bearer ${await signed({ ...valid, sub: '../bob' })}`,
    ],
    ['a token signed with HS512', async () => `Bearer ${await signed(valid, secret, 'HS512')}`],
    [
      'a tampered token',
      async () => {
        const [header, , signature] = (await tokens().issue('alice')).split('.');
        const claims = Buffer.from(JSON.stringify({ ...valid, sub: 'bob' })).toString('base64url');
        return `Bearer ${header}.${claims}.${signature}`;
      },
    ],
  ])('refuses %s: 401 with error="invalid_token"', async (_, authorization) => {
    const response = await send('GET', '/accounts/acc-1', undefined, {
      authorization: await authorization(),
    });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="simplebank", error="invalid_token"');
    expect(response.json().error.code).toBe('unauthorized');
  });
  const tokens = () => new Tokens(DEVELOPMENT_JWT_SECRET, 900);

  it('takes a token it issued (and only then asks the upstream)', async () => {
    const response = await send('GET', '/accounts/acc-1', undefined, {
      authorization: `bearer ${await tokens().issue('alice')}`,
    });
    expect(response.statusCode).toBe(503); // account-transactions is down in this suite
  });

  it('says 401 before looking at the body', async () => {
    const response = await send('POST', '/shares/sell', '{"account_id":', {});
    expect(response.statusCode).toBe(401);
  });

  it.each([
    ['GET', '/market/quotes'],
    ['GET', '/fees/estimate?side=buy&symbol=ACME&quantity=10'],
  ] as const)('%s %s needs no token', async (method, url) => {
    const response = await send(method, url, undefined, {});
    expect(response.statusCode).toBe(503); // its upstream is down, but it was let through
  });

  it('serves no /admin routes to the outside', async () => {
    for (const method of ['GET', 'PUT'] as const) {
      const response = await service.app.inject({ method, url: '/admin/faults', headers: auth, payload: {} });
      expect(response.statusCode).toBe(404);
    }
  });

  it.each(['/health', '/health/live', '/health/ready', '/version', '/metrics'])(
    '%s is not served to the public (404), and needs no token on the operations listener',
    async (url) => {
      expect(service.ops).not.toBe(service.app);
      const open = await send('GET', url, undefined, {});
      expect(open.statusCode).toBe(404);
      expect(open.json().error.code).toBe('not_found');
      expect((await service.ops.inject({ url })).statusCode).toBe(200);
    },
  );
});

describe('gateway: configuration of the token secret', () => {
  it('refuses to start in production without JWT_SECRET', async () => {
    await expect(
      startService(gateway, { env: { ...env, NODE_ENV: 'production' }, listen: false }),
    ).rejects.toThrow(/^Invalid configuration: JWT_SECRET must be set to a secret of its own/);
  });

  it('refuses a JWT_SECRET shorter than 32 characters', async () => {
    await expect(
      startService(gateway, { env: { ...env, JWT_SECRET: 'short' }, listen: false }),
    ).rejects.toThrow(/JWT_SECRET/);
  });

  it('starts in production with a secret of its own, and takes only tokens signed with it', async () => {
    const secret = 'a production secret of more than 32 characters';
    const production = await startService(gateway, {
      env: { ...env, NODE_ENV: 'production', JWT_SECRET: secret },
      listen: false,
    });
    try {
      const withDevelopmentToken = await production.app.inject({ url: '/accounts', headers: auth });
      expect(withDevelopmentToken.statusCode).toBe(401);
      const own = await new Tokens(secret, 900).issue('alice');
      const withOwnToken = await production.app.inject({
        url: '/accounts',
        headers: { authorization: `Bearer ${own}` },
      });
      expect(withOwnToken.statusCode).toBe(503); // past the token check; account-transactions is down
    } finally {
      await production.stop();
    }
  });
});
