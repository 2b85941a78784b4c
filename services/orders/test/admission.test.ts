import type { Logger, Pool } from '@simplebank/chassis';
import { waitFor } from '@simplebank/chassis/testing';
import { describe, expect, it } from 'vitest';
import { OrderAdmission } from '../src/admission.ts';

/** A pool that answers the in-flight count with whatever `inFlight.count` holds now. */
const poolCounting = (inFlight: { count: number; reads: number }) =>
  ({
    query: async () => {
      inFlight.reads++;
      return { rows: [{ count: inFlight.count }] };
    },
  }) as unknown as Pool;
const log = { debug: () => undefined } as unknown as Logger;

describe('admission control on orders in flight', () => {
  it('admits orders up to the limit, counting its own since the last read, then refuses', async () => {
    const inFlight = { count: 1, reads: 0 };
    const admission = new OrderAdmission(() => poolCounting(inFlight), 3, 20, log);
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
});
