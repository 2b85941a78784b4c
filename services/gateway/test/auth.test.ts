import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, Tokens } from '../src/auth.ts';
import { checkSecrets, DEVELOPMENT_JWT_SECRET, type GatewayConfig } from '../src/config.ts';

const SECRET = 'a secret of at least thirty-two characters';

describe('tokens', () => {
  it('issues an HS256 JWT for the username, with issuer, audience, issue and expiry times', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const token = await new Tokens(SECRET, 900).issue('alice', now);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(decodeJwt(token)).toEqual({
      sub: 'alice',
      iss: TOKEN_ISSUER,
      aud: TOKEN_AUDIENCE,
      iat: now.getTime() / 1000,
      exp: now.getTime() / 1000 + 900,
      jti: expect.any(String),
    });
  });

  it('verifies its own tokens and gives back the username', async () => {
    const tokens = new Tokens(SECRET, 60);
    expect(await tokens.verify(await tokens.issue('bob'))).toBe('bob');
  });

  it('refuses tokens of another secret, expired ones and garbage, without throwing', async () => {
    const tokens = new Tokens(SECRET, 60);
    expect(await tokens.verify(await new Tokens(`${SECRET}!`, 60).issue('bob'))).toBeUndefined();
    expect(await tokens.verify(await tokens.issue('bob', new Date(Date.now() - 3_600_000)))).toBeUndefined();
    for (const garbage of ['', 'a.b.c', 'not a token', '....'])
      expect(await tokens.verify(garbage)).toBeUndefined();
  });

  it('gives every token an id of its own', async () => {
    const tokens = new Tokens(SECRET, 60);
    const [a, b] = await Promise.all([tokens.issue('alice'), tokens.issue('alice')]);
    expect(decodeJwt(a).jti).not.toBe(decodeJwt(b).jti);
  });
});

describe('the token secret', () => {
  const config = (settings: Partial<GatewayConfig>) =>
    ({ NODE_ENV: 'development', JWT_SECRET: DEVELOPMENT_JWT_SECRET, ...settings }) as GatewayConfig;

  it('may be the development default outside production', () => {
    expect(() => checkSecrets(config({}))).not.toThrow();
    expect(() => checkSecrets(config({ NODE_ENV: 'test' }))).not.toThrow();
  });

  it('must be set in production', () => {
    expect(() => checkSecrets(config({ NODE_ENV: 'production' }))).toThrow(/JWT_SECRET must be set/);
    expect(() => checkSecrets(config({ NODE_ENV: 'production', JWT_SECRET: SECRET }))).not.toThrow();
  });
});
