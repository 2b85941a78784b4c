import { describe, expect, it } from 'vitest';
import {
  allEvents,
  centsToDecimal,
  decimalToCents,
  OrderCreated,
  snakeCase,
  validateEnvelope,
} from '../src/index.ts';

describe('event contracts', () => {
  it.each(allEvents.map((e) => [e.name, e] as const))(
    '%s: the canonical example matches its schema',
    (_, event) => {
      expect(event.validate(event.example)).toBeUndefined();
    },
  );

  it('names the routing key and exchange after the book convention', () => {
    expect(OrderCreated.routingKey).toBe('order_created');
    expect(OrderCreated.exchange).toBe('orders.events');
    expect(snakeCase('TradeExecuted')).toBe('trade_executed');
  });

  it('explains what is wrong with a payload', () => {
    const problem = OrderCreated.validate({ ...OrderCreated.example, quantity: 0, extra: true });
    expect(problem).toMatch(/quantity|extra/);
  });

  it('rejects an envelope without a correlation id', () => {
    const envelope = {
      id: '7d2d3b0e-9f7a-4c55-8a2f-0c7b2e9a1d11',
      type: 'OrderCreated',
      version: 1,
      occurredAt: new Date().toISOString(),
      source: 'orders',
      causationId: null,
      payload: {},
    };
    expect(validateEnvelope(envelope)).toMatch(/correlationId/);
    expect(validateEnvelope({ ...envelope, correlationId: 'c1' })).toBeUndefined();
  });
});

describe('money', () => {
  it('converts between cents and exact decimal strings', () => {
    expect(centsToDecimal(1234)).toBe('12.34');
    expect(centsToDecimal(5)).toBe('0.05');
    expect(centsToDecimal(-250)).toBe('-2.50');
    expect(decimalToCents('12.3')).toBe(1230);
    expect(decimalToCents('0.07')).toBe(7);
    expect(decimalToCents('100')).toBe(10000);
  });

  it('refuses amounts it cannot represent exactly', () => {
    expect(() => decimalToCents('1.234')).toThrow(RangeError);
    expect(() => decimalToCents('abc')).toThrow(RangeError);
    expect(() => centsToDecimal(1.5)).toThrow(RangeError);
  });
});
