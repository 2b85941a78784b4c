import { freshDatabase } from '@simplebank/chassis/testing';
import { missingInfrastructure, SERVICES } from '@simplebank/stack';
import type { TestProject } from 'vitest/node';
import { chaosStack, DATABASE_PREFIX } from './stack.ts';

/** Fresh databases, and the URLs for the helpers; the test itself starts (and breaks) the stack. */
export default async function setup(project: TestProject) {
  const missing = await missingInfrastructure();
  if (missing.length > 0) throw new Error(missing.join('\n'));
  await Promise.all(
    ['orders', 'account_transactions', 'fees', 'market', 'stock_exchange'].map((s) =>
      freshDatabase(`${DATABASE_PREFIX}${s}`),
    ),
  );
  const urls = chaosStack('amqp://unused').urls;
  for (const { name } of SERVICES) project.provide(`url:${name}`, urls[name]);
}
