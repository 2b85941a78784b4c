import { describe, expect, it } from 'vitest';
import { nextAttempt } from '../src/domain/retry-schedule.ts';

const policy = { baseMs: 100, maxMs: 1_000, deadlineMs: 60_000 };
const readyAt = 1_000_000;
const always = (value: number) => () => value;

describe('retry schedule of a placement', () => {
  it('backs off exponentially, half fixed and half jitter', () => {
    const delays = [1, 2, 3, 4].map((attempts) => {
      const next = nextAttempt(policy, { attempts, readyAt }, readyAt, always(0));
      return next.kind === 'retry' ? next.at - readyAt : undefined;
    });
    expect(delays).toEqual([50, 100, 200, 400]);
    expect(nextAttempt(policy, { attempts: 2, readyAt }, readyAt, always(0.999_999))).toEqual({
      kind: 'retry',
      at: readyAt + 200,
    });
  });

  it('never waits longer than the maximum', () => {
    expect(nextAttempt(policy, { attempts: 50, readyAt }, readyAt, always(0.999_999))).toEqual({
      kind: 'retry',
      at: readyAt + 1_000,
    });
    expect(nextAttempt(policy, { attempts: 5_000, readyAt }, readyAt, always(0))).toEqual({
      kind: 'retry',
      at: readyAt + 500,
    });
  });

  it('makes its last attempt on the deadline, then gives up', () => {
    const justBefore = readyAt + 59_900;
    expect(nextAttempt(policy, { attempts: 20, readyAt }, justBefore, always(0.5))).toEqual({
      kind: 'retry',
      at: readyAt + 60_000,
    });
    expect(nextAttempt(policy, { attempts: 21, readyAt }, readyAt + 60_000, always(0.5))).toEqual({
      kind: 'give_up',
    });
  });
});
