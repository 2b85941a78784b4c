import { readFile } from 'node:fs/promises';
import { createMetrics } from '@simplebank/chassis';
import { freshDatabase } from '@simplebank/chassis/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let db: pg.Pool;

beforeAll(async () => {
  db = new pg.Pool({ connectionString: await freshDatabase('simplebank_test_chassis_metrics'), max: 2 });
  await db.query(
    await readFile(new URL('../migrations/000_chassis_outbox_inbox.sql', import.meta.url), 'utf8'),
  );
});

afterAll(() => db?.end());

/** The value of an unlabelled sample in the exposition text. */
const sample = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

const insertOutboxRow = (ageSeconds: number) =>
  db.query(
    `INSERT INTO outbox (message_id, exchange, routing_key, type, correlation_id, body, created_at)
     VALUES (gen_random_uuid(), 'evt-test', 'k', 'Test', 'c', '{}', now() - make_interval(secs => $1))`,
    [ageSeconds],
  );

describe('metrics', () => {
  it('counts the outbox backlog and the age of its oldest row at each scrape', async () => {
    const metrics = createMetrics('metrics-test');
    metrics.watchOutbox(db);
    let text = await metrics.registry.metrics();
    expect(sample(text, 'outbox_pending_messages')).toBe(0);
    expect(sample(text, 'outbox_oldest_message_age_seconds')).toBe(0);

    await insertOutboxRow(30);
    await insertOutboxRow(1);
    await insertOutboxRow(2);
    text = await metrics.registry.metrics();
    expect(sample(text, 'outbox_pending_messages')).toBe(3);
    expect(sample(text, 'outbox_oldest_message_age_seconds')).toBeGreaterThanOrEqual(30);
    expect(sample(text, 'outbox_oldest_message_age_seconds')).toBeLessThan(60);

    await db.query('DELETE FROM outbox');
    text = await metrics.registry.metrics();
    expect(sample(text, 'outbox_pending_messages')).toBe(0);
    expect(sample(text, 'outbox_oldest_message_age_seconds')).toBe(0);
  });

  it('still answers a scrape when the database cannot be read, with the last values', async () => {
    const metrics = createMetrics('metrics-test-down');
    await insertOutboxRow(5);
    metrics.watchOutbox(db);
    expect(sample(await metrics.registry.metrics(), 'outbox_pending_messages')).toBe(1);
    metrics.watchOutbox({ query: () => Promise.reject(new Error('connection refused')) });
    expect(sample(await metrics.registry.metrics(), 'outbox_pending_messages')).toBe(1);
    await db.query('DELETE FROM outbox');
  });

  it('includes the Node runtime metrics: event loop lag, heap and GC', async () => {
    const text = await createMetrics('metrics-test-runtime').registry.metrics();
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds',
      'process_resident_memory_bytes',
    ]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
  });
});
