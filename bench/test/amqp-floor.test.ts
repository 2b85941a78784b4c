import { describe, expect, it } from 'vitest';
import { fanOut } from '../src/amqp-floor.ts';

describe('fanOut: how many queues each message reaches, for the same deliveries as the system', () => {
  it('makes exactly the deliveries asked for, each message reaching ⌊D/P⌋ or ⌈D/P⌉ queues', () => {
    const plan = fanOut(3750, 6600);
    expect(plan.reduce((a, b) => a + b, 0)).toBe(6600);
    expect(new Set(plan)).toEqual(new Set([1, 2]));
  });

  it('spreads the larger counts through the run', () => {
    expect(fanOut(4, 6)).toEqual([1, 2, 1, 2]);
  });

  it('refuses fewer deliveries than messages, or fractions', () => {
    expect(() => fanOut(10, 9)).toThrow(RangeError);
    expect(() => fanOut(2.5, 3)).toThrow(RangeError);
  });
});
