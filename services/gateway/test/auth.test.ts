import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { checkSecrets, DEVELOPMENT_JWT_SECRET, secretStrength } from '../src/config.ts';
import { TOKEN_AUDIENCE, TOKEN_ISSUER, Tokens } from '../src/edge/auth.ts';

const SECRET = 'a secret of at least thirty-two characters';

describe('tokens', () => {
  it('issues an HS256 JWT for the username, with issuer, audience, issue and expiry times, and the token version', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const token = await new Tokens(SECRET, 900).issue('alice', now, 3);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(decodeJwt(token)).toEqual({
      sub: 'alice',
      iss: TOKEN_ISSUER,
      aud: TOKEN_AUDIENCE,
      iat: now.getTime() / 1000,
      exp: now.getTime() / 1000 + 900,
      jti: expect.any(String),
      ver: 3,
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
  const config = (settings: { NODE_ENV?: string; JWT_SECRET?: string }) => ({
    NODE_ENV: 'development',
    JWT_SECRET: DEVELOPMENT_JWT_SECRET,
    ...settings,
  });

  it('may be the development default outside production', () => {
    expect(() => checkSecrets(config({}))).not.toThrow();
    expect(() => checkSecrets(config({ NODE_ENV: 'test' }))).not.toThrow();
  });

  it('must be set in production, whatever production is called', () => {
    for (const NODE_ENV of ['production', 'prod', 'staging']) {
      expect(() => checkSecrets(config({ NODE_ENV }))).toThrow(
        /JWT_SECRET must be set to a secret of its own/,
      );
    }
    expect(() => checkSecrets(config({ NODE_ENV: 'production', JWT_SECRET: SECRET }))).not.toThrow();
    expect(() =>
      checkSecrets(config({ NODE_ENV: 'production', JWT_SECRET: randomBytes(32).toString('base64') })),
    ).not.toThrow();
  });

  it('refuses in production every JWT_SECRET the repository publishes (compose, k8s, README)', () => {
    const root = new URL('../../../', import.meta.url);
    const files = [
      'docker-compose.yml',
      'README.md',
      ...readdirSync(new URL('k8s/', root), { recursive: true, encoding: 'utf8' })
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => `k8s/${f}`),
    ];
    const published = files.flatMap((file) =>
      [
        ...readFileSync(new URL(file, root), 'utf8').matchAll(/JWT_SECRET\s*[=:]\s*['"]?([^\s'"`]{16,})/g),
      ].map((m) => m[1] as string),
    );
    expect(published.length).toBeGreaterThanOrEqual(2);
    for (const secret of published) {
      expect(() => checkSecrets(config({ NODE_ENV: 'production', JWT_SECRET: secret })), secret).toThrow(
        /JWT_SECRET/,
      );
    }
  });

  it('refuses a low-entropy secret in production, without printing it', () => {
    for (const secret of [
      'a'.repeat(64),
      'abcd'.repeat(10),
      'password'.repeat(4),
      'correcthorse1234'.repeat(2),
    ]) {
      let message = '';
      try {
        checkSecrets(config({ NODE_ENV: 'production', JWT_SECRET: secret }));
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, secret).toMatch(/JWT_SECRET is too easy to guess/);
      expect(message).not.toContain(secret);
    }
    expect(secretStrength('a'.repeat(64))).toEqual({ bits: 0, distinct: 1 });
  });
});
