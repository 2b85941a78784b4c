import type { Logger, Pool } from '@simplebank/chassis';
import { waitFor } from '@simplebank/chassis/testing';
import { describe, expect, it } from 'vitest';
import { nextLimit, OrderAdmission } from '../src/admission.ts';

/** A pool that answers the in-flight count with whatever `inFlight.count` holds now. */
const poolCounting = (inFlight: { count: number; reads: number }) =>
  ({
    query: async () => {
      inFlight.reads++;
      return { rows: [{ count: inFlight.count, medianAgeMs: 0 }] };
    },
  }) as unknown as Pool;
const log = { debug: () => undefined } as unknown as Logger;

describe('admission control on orders in flight', () => {
  it('admits orders up to the limit, counting its own since the last read, then refuses', async () => {
    const inFlight = { count: 1, reads: 0 };
    const policy = { min: 3, max: 3, targetMedianAgeMs: 400 };
    const admission = new OrderAdmission(() => poolCounting(inFlight), policy, 20, log);
    admission.start();
    try {
      await waitFor('the first read', () => inFlight.reads > 0);
      await new Promise((resolve) => setImmediate(resolve));
      expect([admission.admit(), admission.admit(), admission.admit()]).toEqual([true, true, false]);
      // the saga ended them: the next read lets orders in again
      inFlight.count = 0;
      const reads = inFlight.reads;
      await waitFor('a later read', () => inFlight.reads > reads + 1);
      expect(admission.admit()).toBe(true);
    } finally {
      admission.stop();
    }
  });

  describe('the limit follows the wait of the orders in flight', () => {
    const policy = { min: 50, max: 400, targetMedianAgeMs: 400 };

    it('shrinks by a tenth while the median order in flight is older than the target', () => {
      expect(nextLimit(400, { count: 400, medianAgeMs: 2_000 }, policy)).toBe(360);
      expect(nextLimit(100, { count: 10, medianAgeMs: 401 }, policy)).toBe(90);
    });

    it('grows by a twentieth while orders fill it and are young', () => {
      expect(nextLimit(100, { count: 95, medianAgeMs: 300 }, policy)).toBe(105);
    });

    it('stays put while there is room and the wait is near the target', () => {
      expect(nextLimit(100, { count: 40, medianAgeMs: 250 }, policy)).toBe(100);
    });

    it('grows back once the load has passed, so a burst after a quiet spell finds room', () => {
      expect(nextLimit(100, { count: 0, medianAgeMs: 0 }, policy)).toBe(105);
      let limit = policy.min;
      for (let read = 0; read < 50; read++) limit = nextLimit(limit, { count: 3, medianAgeMs: 20 }, policy);
      expect(limit).toBe(policy.max);
    });

    it('never leaves [min, max], and settles where the wait meets the target', () => {
      expect(nextLimit(52, { count: 52, medianAgeMs: 5_000 }, policy)).toBe(50);
      expect(nextLimit(395, { count: 395, medianAgeMs: 10 }, policy)).toBe(400);
      // a system that ends 90 orders a second: the median order in flight has waited about half of
      // limit ÷ 90 s; from the most, the limit comes down to where that meets the target
      let limit = policy.max;
      for (let read = 0; read < 200; read++) {
        limit = nextLimit(limit, { count: limit, medianAgeMs: ((limit / 90) * 1000) / 2 }, policy);
      }
      expect(limit).toBeGreaterThanOrEqual(60);
      expect(limit).toBeLessThanOrEqual(80);
    });
  });
});
