import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase, freshVhost } from '@simplebank/chassis/testing';
import { missingInfrastructure, SERVICES, Stack } from '@simplebank/stack';
import type { TestProject } from 'vitest/node';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DATABASE_PREFIX = 'simplebank_e2e_';

/** Starts the whole system once for every end-to-end test file, on ports 1xxxx. */
export default async function setup(project: TestProject) {
  const missing = await missingInfrastructure();
  if (missing.length > 0) throw new Error(missing.join('\n'));

  const databases = ['orders', 'account_transactions', 'fees', 'market'].map((s) => `${DATABASE_PREFIX}${s}`);
  await Promise.all(databases.map(freshDatabase));
  const amqpUrl = await freshVhost('simplebank_e2e');

  mkdirSync(join(root, 'e2e', 'test-results'), { recursive: true });
  const logFile = join(root, 'e2e', 'test-results', 'services.log');
  const log = createWriteStream(logFile);
  const stack = new Stack({
    root,
    portOffset: 10_000,
    env: {
      DATABASE_PREFIX,
      AMQP_URL: amqpUrl,
      REDIS_PREFIX: `e2e-${Date.now()}:`,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    },
    serviceEnv: {
      'stock-exchange': { FILL_DELAY_MS: '100' },
      // Short enough for the deadline test, long enough that the outage test recovers in time.
      market: { PLACEMENT_DEADLINE_MS: '8000' },
    },
    onLine: (service, line) => log.write(`${service} ${line}\n`),
  });
  try {
    await stack.start();
  } catch (error) {
    await stack.stop();
    throw new Error(`${(error as Error).message}; service logs in ${logFile}`);
  }
  for (const { name } of SERVICES) project.provide(`url:${name}`, stack.urls[name]);

  return async () => {
    await stack.stop();
    log.end();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    'url:gateway': string;
    'url:orders': string;
    'url:account-transactions': string;
    'url:fees': string;
    'url:market': string;
    'url:stock-exchange': string;
  }
}
