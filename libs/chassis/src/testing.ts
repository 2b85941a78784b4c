import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 10_000, intervalMs = 50 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const serverUrl = () => process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

/** Drops and recreates a database, so a test file starts from nothing. */
export async function freshDatabase(name: string): Promise<string> {
  const client = new pg.Client({ connectionString: `${serverUrl()}/postgres` });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return `${serverUrl()}/${name}`;
}

/**
 * A RabbitMQ virtual host of the suite's own, recreated empty, so suites never see each other's
 * queues. Uses `rabbitmqctl` on this machine; TEST_AMQP_URL points elsewhere instead.
 */
export async function freshVhost(name: string): Promise<string> {
  if (process.env.TEST_AMQP_URL) return process.env.TEST_AMQP_URL;
  await run('rabbitmqctl', ['-q', 'delete_vhost', name]).catch(() => undefined);
  await run('rabbitmqctl', ['-q', 'add_vhost', name]);
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', name, 'guest', '.*', '.*', '.*']);
  return `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(name)}`;
}

/** Environment for starting a service under test against its own database and vhost. */
export async function testEnvironment(suite: string): Promise<Record<string, string>> {
  const name = `simplebank_test_${suite.replaceAll('-', '_')}`;
  const [databaseUrl, amqpUrl] = await Promise.all([freshDatabase(name), freshVhost(name)]);
  return {
    ...(process.env as Record<string, string>),
    DATABASE_URL: databaseUrl,
    AMQP_URL: amqpUrl,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
  };
}
