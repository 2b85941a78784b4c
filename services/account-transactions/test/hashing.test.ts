import { randomUUID } from 'node:crypto';
import { type RunningService, startService } from '@simplebank/chassis';
import { testEnvironment } from '@simplebank/chassis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import accountTransactions from '../src/service.ts';

// Each hash holds 32 MiB outside the heap: a burst of sign-ins must not run them all at once.
let service: RunningService;

beforeAll(async () => {
  const env = await testEnvironment('account_transactions_hashing');
  service = await startService(accountTransactions, {
    env: { ...env, PASSWORD_HASHES_AT_ONCE: '1', PASSWORD_HASHES_WAITING: '2' },
    listen: false,
  });
});

afterAll(() => service?.stop());

const authenticate = (username: string, password: string) =>
  service.app.inject({ method: 'POST', url: '/customers/authenticate', payload: { username, password } });

describe('password hashing at bounded concurrency', () => {
  it('hashes PASSWORD_HASHES_AT_ONCE at a time, queues PASSWORD_HASHES_WAITING, and refuses the rest at once with 503', async () => {
    const username = `burst-${randomUUID().slice(0, 8)}`;
    const created = await service.app.inject({
      method: 'POST',
      url: '/customers',
      payload: { username, password: 'the right one' },
    });
    expect(created.statusCode).toBe(201);

    const answered: { status: number; code: string | undefined; at: number }[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const response = await authenticate(i % 2 === 0 ? username : `nobody-${i}`, `guess-${i}`);
        answered.push({
          status: response.statusCode,
          code: response.json().error?.code,
          at: performance.now(),
        });
      }),
    );
    const refused = answered.filter((a) => a.status === 503);
    const checked = answered.filter((a) => a.status === 401);
    expect(refused.length + checked.length).toBe(20);
    // one running and two waiting at most, whatever the order the queries came back in
    expect(refused.length).toBeGreaterThanOrEqual(10);
    expect(new Set(refused.map((a) => a.code))).toEqual(new Set(['service_unavailable']));
    // refused at once: before the hashes that were let in have all been done
    const lastChecked = Math.max(...checked.map((a) => a.at));
    expect(refused.every((a) => a.at < lastChecked)).toBe(true);

    // and the service is not stuck: the right password passes once the burst is over
    expect((await authenticate(username, 'the right one')).statusCode).toBe(200);
  });
});
