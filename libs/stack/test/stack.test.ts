import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES, type ServiceName } from '../src/services.ts';
import { instanceCounts, Stack } from '../src/stack.ts';
import { fakeRoot, fakeSource } from './fake-root.ts';
import { get } from './http.ts';

interface Answer {
  port: number;
  pid: number;
  tag: string | null;
  exchange: string;
}

async function ask(url: string): Promise<Answer> {
  const { status, body } = await get(url);
  expect(status).toBe(200);
  return JSON.parse(body) as Answer;
}

/** The ports that answered `count` requests, each on a new connection, through the URL. */
async function portsBehind(url: string, count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push((await ask(url)).port);
  return ports;
}

/** Whether the process still runs (a zombie, exited but not yet reaped, does not). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // Linux: the state follows the command name in parentheses
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
};

describe('instances and ports', () => {
  it('a number is for every service but the stock-exchange simulator, which always runs one', () => {
    expect(instanceCounts()).toEqual(Object.fromEntries(SERVICES.map((s) => [s.name, 1])));
    const two = instanceCounts(2);
    for (const { name } of SERVICES) expect(two[name]).toBe(name === 'stock-exchange' ? 1 : 2);
    expect(instanceCounts({ orders: 3 })).toMatchObject({ orders: 3, gateway: 1, 'stock-exchange': 1 });
    expect(() => instanceCounts({ 'stock-exchange': 2 })).toThrow(/one instance/);
    expect(() => instanceCounts(0)).toThrow(RangeError);
    expect(() => instanceCounts({ fees: 1.5 })).toThrow(RangeError);
  });

  it('the URLs stay the default ports + offset; instance i listens 100 × (i + 1) above', () => {
    const stack = new Stack({ root: '/nowhere', portOffset: 100, instances: 2 });
    expect(stack.urls.orders).toBe('http://127.0.0.1:8181');
    expect(stack.urls['stock-exchange']).toBe('http://127.0.0.1:8190');
    expect([stack.instancePort('orders', 0), stack.instancePort('orders', 1)]).toEqual([8281, 8381]);
    expect(stack.instanceUrl('gateway', 1)).toBe('http://127.0.0.1:8380');
    // one instance: it listens on the URL's port itself, as without instances
    expect(stack.instanceCount('stock-exchange')).toBe(1);
    expect(stack.instancePort('stock-exchange')).toBe(8190);
    expect(() => stack.instancePort('orders', 2)).toThrow(RangeError);
    expect(() => stack.pid('stock-exchange', 1)).toThrow(RangeError);

    const single = new Stack({ root: '/nowhere' });
    for (const { name, port } of SERVICES) {
      expect(single.urls[name]).toBe(`http://127.0.0.1:${port}`);
      expect(single.instancePort(name)).toBe(port);
    }
    expect(() => new Stack({ root: '/nowhere', instances: 600 })).toThrow(/ports would reach/);
  });

  it('each instance gets its own PORT, the balanced upstream URLs, and instanceEnv last', () => {
    const stack = new Stack({
      root: '/nowhere',
      portOffset: 100,
      instances: { orders: 2 },
      env: { TAG: 'all', LOG_LEVEL: 'warn' },
      serviceEnv: { orders: { TAG: 'orders' } },
      instanceEnv: (name, instance) =>
        name === 'orders' && instance === 1 ? { TAG: 'orders#2' } : undefined,
    });
    expect(stack.environmentOf('orders', 1)).toMatchObject({
      PORT: '8381',
      TAG: 'orders#2',
      LOG_LEVEL: 'warn',
      ORDERS_URL: 'http://127.0.0.1:8181',
      EXCHANGE_URL: 'http://127.0.0.1:8190',
      ACCOUNTS_URL: 'http://127.0.0.1:8182',
      FEES_URL: 'http://127.0.0.1:8183',
      MARKET_URL: 'http://127.0.0.1:8184',
    });
    expect(stack.environmentOf('orders', 0)).toMatchObject({ PORT: '8281', TAG: 'orders' });
    expect(stack.environmentOf('fees')).toMatchObject({ PORT: '8183', TAG: 'all' });
  });

  it("the gateway's operations routes have a port of their own, moved as its port is; the others share theirs", () => {
    const single = new Stack({ root: '/nowhere' });
    expect(single.opsUrl('gateway')).toBe('http://127.0.0.1:9080');
    expect(single.environmentOf('gateway')).toMatchObject({ PORT: '8080', OPS_PORT: '9080' });
    expect(single.environmentOf('orders')).toMatchObject({ PORT: '8081', OPS_PORT: '8081' });
    const two = new Stack({ root: '/nowhere', portOffset: 100, instances: 2 });
    expect([two.opsPort('gateway', 0), two.opsPort('gateway', 1)]).toEqual([9280, 9380]);
    expect(two.opsUrl('orders', 1)).toBe(two.instanceUrl('orders', 1));
  });

  it("gives every service the stack's admin credential, and its own broker user's AMQP URL when it has one", () => {
    const stack = new Stack({
      root: '/nowhere',
      env: { AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672/v' },
      brokerUrls: { market: 'amqp://v.market:pw@127.0.0.1:5672/v' },
    });
    expect(stack.adminToken.length).toBeGreaterThanOrEqual(32);
    expect(stack.environmentOf('market')).toMatchObject({
      ADMIN_TOKEN: stack.adminToken,
      AMQP_URL: 'amqp://v.market:pw@127.0.0.1:5672/v',
    });
    expect(stack.environmentOf('fees')).toMatchObject({
      ADMIN_TOKEN: stack.adminToken,
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672/v',
    });
    expect(new Stack({ root: '/nowhere' }).adminToken).not.toBe(stack.adminToken);
  });
});

describe('Stack with two instances of every service (fake services)', () => {
  const fake = fakeRoot();
  const lines: { service: ServiceName; line: string; instance: number }[] = [];
  const stack = new Stack({
    root: fake.root,
    portOffset: 13_000,
    instances: 2,
    onLine: (service, line, _stream, instance) => lines.push({ service, line, instance }),
    readyTimeoutMs: 15_000,
  });
  const orders = stack.urls.orders;
  const ordersPorts = [stack.instancePort('orders', 0), stack.instancePort('orders', 1)];

  beforeAll(() => stack.start());
  afterAll(async () => {
    await stack.stop();
    fake.remove();
  });

  it('starts every instance, one stock exchange, each on its own port', async () => {
    expect(ordersPorts).toEqual([21181, 21281]);
    for (const { name } of SERVICES) {
      const pids = stack.pids(name);
      expect(pids).toHaveLength(name === 'stock-exchange' ? 1 : 2);
      for (let i = 0; i < pids.length; i++) {
        const answer = await ask(stack.instanceUrl(name, i));
        expect(answer).toMatchObject({ port: stack.instancePort(name, i), pid: stack.pid(name, i) });
        expect(answer.exchange).toBe(stack.urls['stock-exchange']);
      }
    }
    // the gateway instances were found ready on their operations ports, not their public ones
    for (const i of [0, 1]) {
      expect(lines).toContainEqual({
        service: 'gateway',
        line: `listening on ${stack.opsPort('gateway', i)} as ${stack.pid('gateway', i)}`,
        instance: i,
      });
      expect((await get(`${stack.instanceUrl('gateway', i)}/health/ready`)).body).not.toBe('ready');
    }
    // no balancer in front of the only exchange: it listens on its URL's port itself
    expect((await ask(stack.urls['stock-exchange'])).port).toBe(21090);
    expect(lines).toContainEqual({
      service: 'orders',
      line: `listening on 21281 as ${stack.pid('orders', 1)}`,
      instance: 1,
    });
  });

  it("spreads connections over a service's instances, round robin", async () => {
    const ports = await portsBehind(orders, 4);
    expect(ports.sort()).toEqual([...ordersPorts, ...ordersPorts].sort());
    expect(new Set(await portsBehind(stack.urls.gateway, 2)).size).toBe(2);
  });

  it('a stopped instance is skipped; started again, it takes its share again', async () => {
    const pid = stack.pid('orders', 0) ?? 0;
    expect(await stack.stopService('orders', 'SIGTERM', 0)).toBe(0);
    expect(lines).toContainEqual({ service: 'orders', line: 'bye', instance: 0 });
    expect(stack.pid('orders', 0)).toBeUndefined();
    expect(alive(pid)).toBe(false);
    expect(await portsBehind(orders, 4)).toEqual(Array(4).fill(ordersPorts[1]));

    await stack.startService('orders', 0);
    expect(new Set(await portsBehind(orders, 4))).toEqual(new Set(ordersPorts));
    await expect(stack.startService('orders', 0)).rejects.toThrow(/already running/);
  });

  it('SIGSTOP freezes one instance, SIGCONT resumes it; a frozen one still stops', async () => {
    expect(stack.signal('fees', 'SIGSTOP', 1)).toBe(true);
    await expect(get(stack.instanceUrl('fees', 1), { timeoutMs: 300 })).rejects.toThrow(/timed out/);
    expect((await ask(stack.instanceUrl('fees', 0))).port).toBe(stack.instancePort('fees', 0));
    expect(stack.signal('fees', 'SIGCONT', 1)).toBe(true);
    expect((await ask(stack.instanceUrl('fees', 1))).port).toBe(stack.instancePort('fees', 1));

    stack.signal('fees', 'SIGSTOP', 1);
    expect(await stack.stopService('fees', 'SIGTERM', 1)).toBe(0);
    expect(stack.signal('fees', 'SIGCONT', 1)).toBe(false);
    await stack.startService('fees', 1);
  });

  it('with every instance stopped the balancer closes the connection, then serves again', async () => {
    await Promise.all([stack.stopService('market', 'SIGKILL', 0), stack.stopService('market', 'SIGTERM', 1)]);
    await expect(get(stack.urls.market)).rejects.toThrow(/socket hang up|ECONNRESET/);
    await stack.startService('market', 1);
    expect((await ask(stack.urls.market)).port).toBe(stack.instancePort('market', 1));
    await stack.startService('market', 0);
  });

  it('stop() stops every instance and closes the balancers', async () => {
    const pids = SERVICES.flatMap(({ name }) => stack.pids(name));
    expect(pids).toHaveLength(13);
    await stack.stop();
    expect(pids.filter(alive)).toEqual([]);
    await expect(get(orders)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('an instance under a wrapper command', () => {
  const fake = fakeRoot();
  const lines: string[] = [];
  const stack = new Stack({
    root: fake.root,
    portOffset: 14_000,
    instances: { orders: 2 },
    serviceEnv: { orders: { TAG: 'plain' } },
    instanceEnv: (_name, instance) => (instance === 1 ? { TAG: 'wrapped' } : undefined),
    // a wrapper that forks, as faketime does: node runs as sh's child, not in its place
    command: (name, instance) =>
      name === 'orders' && instance === 1 ? { prefix: ['sh', '-c', '"$0" "$@"; echo after'] } : undefined,
    onLine: (service, line, _stream, instance) => lines.push(`${service}#${instance + 1} ${line}`),
  });

  afterAll(async () => {
    await stack.stop();
    fake.remove();
  });

  it('runs under the prefix, and stopping it signals the whole group and waits for node', async () => {
    await stack.startService('orders', 0);
    await stack.startService('orders', 1);
    expect(await ask(stack.instanceUrl('orders', 0))).toMatchObject({
      tag: 'plain',
      pid: stack.pid('orders', 0),
    });
    const wrapped = await ask(stack.instanceUrl('orders', 1));
    expect(wrapped.tag).toBe('wrapped');
    expect(wrapped.pid).not.toBe(stack.pid('orders', 1)); // the pid is sh's

    expect(stack.signal('orders', 'SIGSTOP', 1)).toBe(true);
    await expect(get(stack.instanceUrl('orders', 1), { timeoutMs: 300 })).rejects.toThrow(/timed out/);
    stack.signal('orders', 'SIGCONT', 1);

    await stack.stopService('orders', 'SIGTERM', 1);
    // its output is closed: node is exiting, if the kernel has not quite finished
    await expect.poll(() => alive(wrapped.pid), { timeout: 1000 }).toBe(false);
    expect(lines).toContain('orders#2 bye');
    expect((await ask(stack.urls.orders)).tag).toBe('plain');
  });

  it('a wrapper that cannot be found fails the start, saying so', async () => {
    const broken = new Stack({
      root: fake.root,
      portOffset: 15_000,
      command: () => ({ prefix: ['/nonexistent/wrapper'] }),
    });
    await expect(broken.startService('fees')).rejects.toThrow(
      /fees could not start: spawn \/nonexistent\/wrapper ENOENT/,
    );
    // nothing to stop: resolves at once
    await broken.stopService('fees');
    expect(broken.pid('fees')).toBeUndefined();
  });
});

describe('watch (pnpm dev): each service from its TypeScript source, restarted on a change', () => {
  const fake = fakeRoot();
  const lines: string[] = [];
  const stack = new Stack({
    root: fake.root,
    portOffset: 16_000,
    watch: true,
    onLine: (service, line) => lines.push(`${service} ${line}`),
  });

  afterAll(async () => {
    await stack.stop();
    fake.remove();
  });

  it('runs src/server.ts, restarts it when the file changes, and still stops on SIGTERM', async () => {
    await stack.startService('fees');
    const first = await ask(stack.urls.fees);
    expect(first.tag).toBe('source'); // the TypeScript ran: dist/server.js has no tag
    // the watcher is the Stack's process; the service runs as its child
    expect(first.pid).not.toBe(stack.pid('fees'));

    writeFileSync(join(fake.root, 'services', 'fees', 'src', 'server.ts'), fakeSource('edited'));
    await expect
      .poll(async () => (await ask(stack.urls.fees).catch(() => undefined))?.tag, { timeout: 20_000 })
      .toBe('edited');
    const second = await ask(stack.urls.fees);
    expect(second.pid).not.toBe(first.pid);
    expect(alive(first.pid)).toBe(false);

    await stack.stopService('fees');
    expect(lines.filter((l) => l === 'fees bye').length).toBeGreaterThanOrEqual(2);
    expect(alive(second.pid)).toBe(false);
  }, 60_000);
});
