import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

const Own = Type.Object({ EXCHANGE_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 2000 }) });

describe('configuration from the environment', () => {
  it('has defaults that work against the local services', () => {
    const config = loadConfig(Own, {});
    expect(config.AMQP_URL).toBe('amqp://guest:guest@127.0.0.1:5672');
    expect(config.EXCHANGE_TIMEOUT_MS).toBe(2000);
    expect(config.PREFETCH).toBe(20);
  });

  it('converts numbers from strings', () => {
    expect(loadConfig(Own, { EXCHANGE_TIMEOUT_MS: '150', PREFETCH: '5' })).toMatchObject({
      EXCHANGE_TIMEOUT_MS: 150,
      PREFETCH: 5,
    });
  });

  it('names the variable that is wrong, and what it got', () => {
    expect(() => loadConfig(Own, { EXCHANGE_TIMEOUT_MS: 'soon' })).toThrow(ConfigError);
    expect(() => loadConfig(Own, { EXCHANGE_TIMEOUT_MS: 'soon' })).toThrow(/EXCHANGE_TIMEOUT_MS.*"soon"/);
    expect(() => loadConfig(Own, { LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });
});

describe('configuration errors and secrets', () => {
  const Secrets = Type.Object({
    JWT_SECRET: Type.String({ minLength: 32 }),
    API_TOKEN: Type.String({ minLength: 8 }),
    REDIS_URL: Type.String({ pattern: '^rediss?://' }),
  });
  const valid = { JWT_SECRET: 'x'.repeat(32), API_TOKEN: 'y'.repeat(8), REDIS_URL: 'redis://127.0.0.1:6379' };
  const messageOf = (env: Record<string, string>) => {
    try {
      loadConfig(Secrets, env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('no ConfigError');
  };

  it('never prints the value of a variable whose name says it is a secret', () => {
    const secret = 'a-31-character-secret-value-xyz';
    const message = messageOf({ ...valid, JWT_SECRET: secret, API_TOKEN: 'short' });
    expect(message).toMatch(/JWT_SECRET.*31 characters, not shown/);
    expect(message).toMatch(/API_TOKEN/);
    expect(message).not.toContain(secret);
    expect(message).not.toContain('short');
  });

  it('masks the credentials of a URL with a typo, and of the base URLs', () => {
    const message = messageOf({ ...valid, REDIS_URL: 'redis//admin:hunter2-password@cache:6379' });
    expect(message).toMatch(/REDIS_URL/);
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('admin');
    const amqp = messageOf({ ...valid, AMQP_HEARTBEAT_SECONDS: 'amqp://guest:s3cret@host' });
    expect(amqp).not.toContain('s3cret');
  });
});
