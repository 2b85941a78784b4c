// Exponential back-off with jitter: one formula for retried calls (call-guard.ts) and market's
// placements on the exchange.
// Pure: a package subpath of its own (@simplebank/chassis/backoff), so domain modules can use it.

/**
 * Waits before retry number `retry` (1, 2, …): exponential back-off with jitter. Half the delay is
 * fixed and half random, so the delays grow and retries of many callers spread out. Pure.
 */
export function retryDelay(retry: number, backoff: { baseMs: number; maxMs: number }, random: () => number) {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
