/** When to try the exchange again after it could not take an order, and when to give up. Pure. */
import { retryDelay } from '@simplebank/chassis/backoff';

export interface RetryPolicy {
  /** The first retry waits about this long; each later one up to twice as long as the last. */
  baseMs: number;
  maxMs: number;
  /** How long after the order became ready market keeps trying. */
  deadlineMs: number;
}

export type NextAttempt = { kind: 'retry'; at: number } | { kind: 'give_up' };

/**
 * After the `attempts`-th attempt failed at `now`: back off as every retry does (`retryDelay`),
 * never past the deadline, and give up once the deadline has passed. `random` is uniform in [0, 1).
 */
export function nextAttempt(
  policy: RetryPolicy,
  placement: { attempts: number; readyAt: number },
  now: number,
  random: () => number,
): NextAttempt {
  const deadline = placement.readyAt + policy.deadlineMs;
  if (now >= deadline) return { kind: 'give_up' };
  const delay = retryDelay(placement.attempts, policy, random);
  // the last attempt lands on the deadline itself
  return { kind: 'retry', at: Math.min(deadline, now + delay) };
}
