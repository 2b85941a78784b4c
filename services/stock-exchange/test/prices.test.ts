import { describe, expect, it } from 'vitest';
import { isOutage, isRejected } from '../src/domain/faults.ts';
import { DEFAULT_SYMBOLS, nextPrice, parseSymbols } from '../src/domain/prices.ts';

const always = (value: number) => () => value;

describe('prices', () => {
  it('opens the default symbols at their prices in cents', () => {
    expect(Object.fromEntries(parseSymbols(DEFAULT_SYMBOLS))).toEqual({
      ACME: 10_000,
      GLOBEX: 4_250,
      INITECH: 1_230,
      UMBRELLA: 25_000,
      HOOLI: 7_520,
    });
  });

  it('refuses a symbol list it cannot read', () => {
    expect(() => parseSymbols('acme:1.00')).toThrow(RangeError);
    expect(() => parseSymbols('ACME:0.00')).toThrow(RangeError);
    expect(() => parseSymbols('ACME:1.234')).toThrow(RangeError);
  });

  it('moves at most 0.5 % a step, either way', () => {
    expect(nextPrice(10_000, 10_000, always(0.999_999))).toBe(10_049);
    expect(nextPrice(10_000, 10_000, always(0))).toBe(9_950);
    expect(nextPrice(10_000, 10_000, always(0.5))).toBe(10_000);
  });

  it('stays between half and double the opening price', () => {
    expect(nextPrice(5_010, 10_000, always(0))).toBe(5_035); // would go below 50.00: reflected
    expect(nextPrice(19_990, 10_000, always(0.999_999))).toBe(19_891); // would pass 200.00: reflected
    let price = 10_000;
    for (let i = 0; i < 10_000; i++) {
      const next = nextPrice(price, 10_000, Math.random);
      expect(Math.abs(next - price)).toBeLessThanOrEqual(price * 0.005);
      price = next;
    }
    expect(price).toBeGreaterThanOrEqual(5_000);
    expect(price).toBeLessThanOrEqual(20_000);
  });
});

describe('faults', () => {
  const faults = {
    latency_ms: 0,
    error_rate: 0.25,
    reject_rate: 0.5,
    fill_delay_ms: 200,
    order_ttl_ms: 30_000,
  };

  it('is down for the share of requests in error_rate', () => {
    expect(isOutage(faults, always(0.24))).toBe(true);
    expect(isOutage(faults, always(0.25))).toBe(false);
  });

  it('rejects the share of new orders in reject_rate, never a retried one', () => {
    expect(isRejected(faults, false, always(0.49))).toBe(true);
    expect(isRejected(faults, false, always(0.5))).toBe(false);
    expect(isRejected({ ...faults, reject_rate: 1 }, true, always(0))).toBe(false);
  });
});
