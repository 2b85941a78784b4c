import { describe, expect, it } from 'vitest';
import { fingerprintOf, orderIdFor } from '../src/edge/idempotency.ts';

describe('order ids from idempotency keys', () => {
  it('names the same order for the same customer and key, every time', () => {
    expect(orderIdFor('alice', 'k-1')).toBe(orderIdFor('alice', 'k-1'));
    // the id the earlier hand-written UUID v5 gave: a key sent before an upgrade names the same order after it
    expect(orderIdFor('alice', 'k-1')).toBe('05765efa-f0c6-5669-bac6-fb9d9c965cab');
  });

  it('names different orders for another key or another customer', () => {
    const ids = new Set([orderIdFor('alice', 'k-1'), orderIdFor('alice', 'k-2'), orderIdFor('bob', 'k-1')]);
    expect(ids.size).toBe(3);
    // the separator keeps ("al", "ice\nk") and ("al\nice", "k") apart from ("alice", "k")
    expect(orderIdFor('ali', 'ce')).not.toBe(orderIdFor('al', 'ice'));
  });

  it('is a version 5 RFC 4122 UUID', () => {
    expect(orderIdFor('alice', '4a7e0a0e-3c3f-4b8e-9d3e-2d1c0b9a8f7e')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});

describe('request fingerprints', () => {
  it('tell requests apart by route and by every field', () => {
    const base = fingerprintOf('POST /shares/sell', ['acc-1', 'ACME', 10]);
    expect(fingerprintOf('POST /shares/sell', ['acc-1', 'ACME', 10])).toBe(base);
    for (const other of [
      fingerprintOf('POST /shares/buy', ['acc-1', 'ACME', 10]),
      fingerprintOf('POST /shares/sell', ['acc-2', 'ACME', 10]),
      fingerprintOf('POST /shares/sell', ['acc-1', 'HOOLI', 10]),
      fingerprintOf('POST /shares/sell', ['acc-1', 'ACME', 11]),
      fingerprintOf('POST /shares/sell', ['acc-1', 'ACME', '10']),
    ])
      expect(other).not.toBe(base);
  });
});
