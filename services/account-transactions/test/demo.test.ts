import { type RunningService, startService } from '@simplebank/chassis';
import { testEnvironment } from '@simplebank/chassis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import accountTransactions from '../src/service.ts';

// Demo customers (alice, bob, carol: their passwords are in the README) exist only where demo data
// is asked for (DEMO_DATA=true), and a production start refuses to run while they exist.
let env: Record<string, string>;
const started: RunningService[] = [];

const start = async (settings: Record<string, string>) => {
  const service = await startService(accountTransactions, { env: { ...env, ...settings }, listen: false });
  started.push(service);
  return service;
};
const stopAll = async () => {
  for (const service of started.splice(0)) await service.stop();
};
const signIn = (service: RunningService, username: string, password: string) =>
  service.app.inject({ method: 'POST', url: '/customers/authenticate', payload: { username, password } });

beforeAll(async () => {
  env = { ...(await testEnvironment('account_transactions_demo')), NODE_ENV: 'development' };
  delete env.DEMO_DATA;
});
afterAll(stopAll);

describe('demo customers', () => {
  it('do not exist on a database started without DEMO_DATA, where production starts', async () => {
    const plain = await start({});
    expect((await signIn(plain, 'alice', 'alice-password')).statusCode).toBe(401);
    expect((await plain.app.inject({ url: '/accounts/acc-alice' })).statusCode).toBe(404);
    await stopAll();
    await start({ NODE_ENV: 'production' });
    await stopAll();
  });

  it('are written by a DEMO_DATA=true start, once, with their published passwords and balances', async () => {
    const demo = await start({ DEMO_DATA: 'true' });
    expect((await signIn(demo, 'alice', 'alice-password')).statusCode).toBe(200);
    expect((await signIn(demo, 'bob', 'bob-password')).statusCode).toBe(200);
    await stopAll();
    const again = await start({ DEMO_DATA: 'true' });
    const alice = (await again.app.inject({ url: '/accounts?owner=alice' })).json();
    expect(alice.accounts).toMatchObject([{ account_id: 'acc-alice', cash: { available: '10000.00' } }]);
    const carol = (await again.app.inject({ url: '/accounts/acc-carol' })).json();
    expect(carol.cash.available).toBe('1000.00');
    await stopAll();
  });

  it('make a production start refuse to run, naming them and not their passwords', async () => {
    // the database of the test before holds them, as one that applied the old migrations does
    for (const NODE_ENV of ['production', 'prod']) {
      const refused = start({ NODE_ENV }).then(
        () => '',
        (error: Error) => `${error.name}: ${error.message}`,
      );
      const message = await refused;
      expect(message).toMatch(
        /^ConfigError: Refusing to start in production: demo customers with published passwords exist \(alice, bob, carol\)/,
      );
      expect(message).not.toContain('-password');
    }
  });

  it('are refused when asked for in production', async () => {
    await expect(start({ NODE_ENV: 'production', DEMO_DATA: 'true' })).rejects.toThrow(
      /DEMO_DATA=true is for demo stacks, not NODE_ENV=production/,
    );
  });
});
