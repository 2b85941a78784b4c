import { describe, expect, it } from 'vitest';
import { backOffMs, inDoubt, OrderIntent, untilAnswered } from '../web/src/order-intent.ts';

// The screen's side of "one order per intent" (web/src/order-intent.ts), pure.

const terms = { accountId: 'acc-1', side: 'sell', symbol: 'ACME', quantity: 2 };
const keys = () => {
  let n = 0;
  return new OrderIntent(() => `key-${++n}`);
};

describe('one Idempotency-Key per order the customer means', () => {
  it('keeps the key of an unanswered order for the same terms, and takes a new one once answered', () => {
    const intent = keys();
    expect(intent.keyFor(terms)).toBe('key-1');
    expect(intent.keyFor({ ...terms })).toBe('key-1');
    intent.answered();
    expect(intent.keyFor(terms)).toBe('key-2');
  });

  it('takes a new key when the customer changes the order', () => {
    const intent = keys();
    expect(intent.keyFor(terms)).toBe('key-1');
    expect(intent.keyFor({ ...terms, quantity: 3 })).toBe('key-2');
    expect(intent.keyFor({ ...terms, side: 'buy', quantity: 3 })).toBe('key-3');
  });

  it('counts no answer, a 5xx and a key still in progress as in doubt, other 4xx as answers', () => {
    expect(inDoubt({ status: 0 })).toBe(true);
    expect(inDoubt({ status: 503 })).toBe(true);
    expect(inDoubt({ status: 409, code: 'request_in_progress' })).toBe(true);
    expect(inDoubt({ status: 409, code: 'order_not_cancelable' })).toBe(false);
    expect(inDoubt(new TypeError('failed to fetch'))).toBe(true);
    expect(inDoubt({ status: 422 })).toBe(false);
    expect(inDoubt({ status: 429 })).toBe(false);
  });

  it("waits the server's Retry-After, else a second more each time", () => {
    expect(backOffMs(1, '2')).toBe(2000);
    expect(backOffMs(1, null)).toBe(1000);
    expect(backOffMs(2, 'soon')).toBe(2000);
  });
});

describe('sending until answered', () => {
  const noWait = { wait: async () => undefined };

  it('tries again after no answer and a 5xx, and returns the answer', async () => {
    const outcomes: unknown[] = [{ status: 0 }, { status: 503, retryAfter: '1' }, 'accepted'];
    const waits: number[] = [];
    const answer = await untilAnswered(
      async () => {
        const next = outcomes.shift();
        if (next !== 'accepted') throw next;
        return next;
      },
      { wait: async (ms) => void waits.push(ms) },
    );
    expect(answer).toBe('accepted');
    expect(waits).toEqual([1000, 1000]);
  });

  it('gives up after its tries, and never retries an answer', async () => {
    let calls = 0;
    const noAnswer = () => {
      calls++;
      return Promise.reject({ status: 0 });
    };
    await expect(untilAnswered(noAnswer, { tries: 3, ...noWait })).rejects.toEqual({ status: 0 });
    expect(calls).toBe(3);

    calls = 0;
    const refused = () => {
      calls++;
      return Promise.reject({ status: 422, code: 'insufficient_shares' });
    };
    await expect(untilAnswered(refused, noWait)).rejects.toMatchObject({ status: 422 });
    expect(calls).toBe(1);
  });
});
