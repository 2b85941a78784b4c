import { randomUUID } from 'node:crypto';
import { type RunningService, startService, transaction } from '@simplebank/chassis';
import { publishEvent, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { OrderCreated } from '@simplebank/contracts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import counter, { inTransaction, SLOW } from './fixtures/counter-service.ts';

const POOL_SIZE = 3;
let env: Record<string, string>;
let service: RunningService;
let db: pg.Client;

beforeAll(async () => {
  env = await testEnvironment('chassis-database');
  service = await startService(counter, {
    env: {
      ...env,
      DATABASE_POOL_SIZE: String(POOL_SIZE),
      // one message per transaction, as many at once as the service lets: the cap below is the pool's
      HANDLER_BATCH_SIZE: '1',
      HANDLER_BATCHES: '100',
      DATABASE_LOCK_TIMEOUT_MS: '300',
      DATABASE_STATEMENT_TIMEOUT_MS: '2500',
      DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '4000',
    },
    listen: false,
  });
  db = new pg.Client({ connectionString: env.DATABASE_URL });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await service?.stop();
});

describe('the sessions of a service’s pool', () => {
  it('have lock, statement and idle-in-transaction timeouts, sane by default', async () => {
    const defaults = loadConfig(counter.config ?? ({ properties: {} } as never), {});
    expect(defaults).toMatchObject({
      DATABASE_LOCK_TIMEOUT_MS: 5000,
      DATABASE_STATEMENT_TIMEOUT_MS: 15_000,
      DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: 30_000,
    });
    const show = async (setting: string) =>
      (await service.context.pool.query(`SHOW ${setting}`)).rows[0]?.[setting];
    expect(await show('lock_timeout')).toBe('300ms');
    expect(await show('statement_timeout')).toBe('2500ms');
    expect(await show('idle_in_transaction_session_timeout')).toBe('4s');
  });

  it('give up waiting on a lock another session holds with 55P03, not hang', async () => {
    await db.query('BEGIN');
    try {
      await db.query('LOCK TABLE effects IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const waited = await transaction(service.context.pool, (tx) =>
        tx.query('INSERT INTO effects (order_id) VALUES ($1)', [randomUUID()]),
      ).catch((error: unknown) => error);
      expect(waited).toMatchObject({ code: '55P03' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(2500); // the lock timeout, not the statement's
    } finally {
      await db.query('ROLLBACK');
    }
  });
});

describe('handlers of a service', () => {
  it('never run more at once than its pool has connections, less the relay’s', async () => {
    inTransaction.most = 0;
    let mostWaitingForConnection = 0;
    const pool = service.context.pool;
    const sampler = setInterval(() => {
      mostWaitingForConnection = Math.max(mostWaitingForConnection, pool.waitingCount);
    }, 2);
    try {
      const orders = Array.from({ length: 12 }, () => ({
        ...OrderCreated.example,
        orderId: randomUUID(),
        quantity: SLOW,
      }));
      for (const order of orders) await publishEvent(env.AMQP_URL as string, OrderCreated, order);
      const held = Array.from({ length: 12 }, () =>
        service.context.broker.call('chassis-fixture', 'hold', { ms: 100 }, 10_000),
      );
      await Promise.all(held);
      await waitFor('every slow order counted', async () => {
        const { rows } = await db.query('SELECT count(*)::int AS n FROM effects WHERE order_id = ANY($1)', [
          orders.map((o) => o.orderId),
        ]);
        return rows[0].n === orders.length;
      });
    } finally {
      clearInterval(sampler);
    }
    expect(inTransaction.most).toBe(POOL_SIZE - 1);
    expect(mostWaitingForConnection).toBe(0);
  });
});
