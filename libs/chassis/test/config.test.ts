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
