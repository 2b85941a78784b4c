import { startService } from '@simplebank/chassis';
import { testEnvironment, waitFor } from '@simplebank/chassis/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import counter from './fixtures/counter-service.ts';

let env: Record<string, string>;
let db: pg.Client;

beforeAll(async () => {
  env = { ...(await testEnvironment('chassis-retention')), INBOX_RETENTION_HOURS: '24' };
  // a first start makes the inbox
  await (await startService(counter, { env, listen: false })).stop();
  db = new pg.Client({ connectionString: env.DATABASE_URL });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
});

const rowsHandled = async (age: string) =>
  (await db.query(`SELECT count(*)::int AS n FROM inbox WHERE handled_at < now() - $1::interval`, [age]))
    .rows[0].n as number;

describe('the inbox', () => {
  it('loses its rows older than INBOX_RETENTION_HOURS, in batches, and keeps the recent ones', async () => {
    // 2,500 rows past the window: three batches of at most 1,000
    await db.query(
      `INSERT INTO inbox (handler, message_id, handled_at)
       SELECT 'old-handler', 'old-' || n, now() - interval '25 hours' - n * interval '1 second'
       FROM generate_series(1, 2500) AS n`,
    );
    await db.query(
      `INSERT INTO inbox (handler, message_id, handled_at) VALUES
         ('recent-handler', 'a', now() - interval '23 hours'), ('recent-handler', 'b', now())`,
    );
    expect(await rowsHandled('24 hours')).toBe(2500);

    const service = await startService(counter, { env, listen: false });
    try {
      await waitFor('the expired rows gone', async () => (await rowsHandled('24 hours')) === 0);
    } finally {
      await service.stop();
    }
    const { rows } = await db.query(`SELECT message_id FROM inbox ORDER BY message_id`);
    expect(rows.map((r) => r.message_id)).toEqual(['a', 'b']);
  });
});
