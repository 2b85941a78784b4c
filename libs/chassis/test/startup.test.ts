import { rabbitmqctl, startService } from '@simplebank/chassis';
import { dropSuiteVhosts, freshVhost, TcpProxy, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import counter from './fixtures/counter-service.ts';

// A starting instance and a broker that does not answer yet: RabbitMQ behind a proxy that accepts
// connections and lets nothing through, as a busy or partitioned broker looks to a client.
let env: Record<string, string>;
let amqpUrl: string;
let proxy: TcpProxy;

beforeAll(async () => {
  env = await testEnvironment('chassis_startup');
  amqpUrl = env.AMQP_URL ?? '';
  const broker = new URL(amqpUrl);
  proxy = await TcpProxy.start({ host: broker.hostname, port: Number(broker.port || 5672) });
}, 60_000);

afterAll(() => proxy?.close());

describe('an instance starting before RabbitMQ answers', () => {
  it('waits for it, by default longer than a busy broker takes, and comes up when it answers', async () => {
    proxy.blackHole();
    const starting = startService(counter, {
      env: { ...env, AMQP_URL: proxy.through(amqpUrl) },
      listen: false,
    });
    await waitFor('the instance to try the broker', () => proxy.connections > 0, { timeoutMs: 10_000 });
    // the fault's duration, not a synchronisation: the broker stays silent for 6 s (the chassis
    // used to give up after 5 s, and the chaos suite's gateway did on a loaded machine)
    await new Promise((resolve) => setTimeout(resolve, 6000));
    await proxy.restore();
    const service = await starting;
    await service.stop();
  }, 30_000);

  it('exits with an error that names the broker and how to start it, once the wait is over', async () => {
    proxy.blackHole();
    const started = startService(counter, {
      env: { ...env, AMQP_URL: proxy.through(amqpUrl), AMQP_STARTUP_TIMEOUT_MS: '500' },
      listen: false,
    });
    await expect(started).rejects.toThrow(
      /RabbitMQ is not reachable at .*\*\*\*@.*Start it with: rabbitmq-server/,
    );
    await proxy.restore();
  }, 30_000);
});

describe('what a service declared it does without', () => {
  it('names the missing database or broker when its code reaches for one', async () => {
    const service = await startService(
      { name: 'bare', version: '0', port: 0, broker: false },
      { env, listen: false },
    );
    try {
      expect(() => service.context.pool).toThrow(
        'bare has no database: its definition declares no migrations',
      );
      expect(() => service.context.broker).toThrow('bare has no broker: its definition says broker: false');
    } finally {
      await service.stop();
    }
  });

  it('refuses to start RPC methods without a database to run them in', async () => {
    const started = startService(
      { ...counter, name: 'no-database', migrations: undefined, handlers: undefined },
      { env, listen: false },
    );
    await expect(started).rejects.toThrow(
      'no-database declares event handlers or RPC methods but no migrations',
    );
  });
});

describe('dropSuiteVhosts (before the whole-system suites)', () => {
  it('deletes the virtual hosts suites left behind, and only those', async () => {
    // a prefix of this test's own: the default one names the suites running beside it
    const prefix = `simplebank_droptest_${process.pid}_`;
    await Promise.all([freshVhost(`${prefix}a`), freshVhost(`${prefix}b`)]);
    expect((await dropSuiteVhosts(prefix)).sort()).toEqual([`${prefix}a`, `${prefix}b`]);
    expect(await dropSuiteVhosts(prefix)).toEqual([]);
    // the suite's own virtual host is still there
    const own = new URL(amqpUrl).pathname.slice(1);
    const { stdout } = await rabbitmqctl(['-q', 'list_vhosts', 'name']);
    expect(stdout.split('\n')).toContain(decodeURIComponent(own));
  }, 60_000);
});
