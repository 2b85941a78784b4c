import { Writable } from 'node:stream';
import { startService } from '@simplebank/chassis';
import { testEnvironment } from '@simplebank/chassis/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { operationsPort } from '../src/apps.ts';
import { tokenMatches } from '../src/debug.ts';
import type { ServiceContext } from '../src/definition.ts';
import { registerChassisRoutes } from '../src/health.ts';
import { type App, createApp } from '../src/http.ts';
import { createLogger, RecentEntries } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import counter from './fixtures/counter-service.ts';

const TOKEN = 'a-debug-token-for-tests';
const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** A service's chassis routes, without database or broker; its logs go nowhere but `recent`. */
async function service(
  options: {
    public?: boolean;
    env?: NodeJS.ProcessEnv;
    checks?: Record<string, () => Promise<boolean>>;
    soft?: Record<string, () => Promise<boolean>>;
  } = {},
) {
  const recent = new RecentEntries();
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const log = createLogger('health-test', 'info', { recent, destination: sink });
  const metrics = createMetrics('health-test');
  const svc = {
    name: 'health-test',
    config: { GIT_COMMIT: 'abc123' },
    log,
    metrics,
  } as unknown as ServiceContext<unknown>;
  const app = createApp(log, metrics);
  const definition = {
    name: 'health-test',
    version: '1.2.3',
    ...(options.public === undefined ? {} : { public: options.public }),
  };
  registerChassisRoutes(
    app,
    definition,
    svc,
    recent,
    { hard: options.checks ?? {}, soft: options.soft ?? {} },
    options.env ?? {},
  );
  await app.ready();
  apps.push(app);
  return { app, log };
}

describe('/health (the page every service serves)', () => {
  it("shows the status, each dependency's check, the last 10 log entries and 10 metric samples", async () => {
    const { app, log } = await service({
      checks: {
        database: async () => true,
        broker: async () => false,
        exchange: () => Promise.reject(new Error('x')),
      },
    });
    for (let i = 1; i <= 15; i++) log.info({ n: i }, `entry ${i}`);

    const response = await app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.status).toBe('not_ready');
    expect(body.checks).toEqual({ database: 'up', broker: 'down', exchange: 'down' });
    expect(body.recent_logs).toHaveLength(10);
    expect(body.recent_logs.map((e: { message: string }) => e.message)).toEqual(
      Array.from({ length: 10 }, (_, i) => `entry ${i + 6}`),
    );
    expect(body.recent_logs[0]).toMatchObject({ service: 'health-test', level: 'info', '@version': '1' });
    expect(body.metrics).toHaveLength(10);
    for (const sample of body.metrics)
      expect(sample).toMatchObject({ name: expect.any(String), values: expect.any(Array) });

    const ready = await service({ checks: { database: async () => true } });
    expect((await ready.app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({
      status: 'ready',
      checks: { database: 'up' },
    });
  });

  it('/health/ready answers 503 while a dependency is down, /version names the build', async () => {
    const { app } = await service({ checks: { broker: async () => false } });
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ status: 'not_ready', checks: { broker: 'down' } });
    expect((await app.inject({ method: 'GET', url: '/version' })).json()).toEqual({
      name: 'health-test',
      version: '1.2.3',
      commit: 'abc123',
    });
  });

  it('a soft dependency down (the broker, Redis) degrades the service but leaves it ready', async () => {
    const { app } = await service({
      checks: { database: async () => true },
      soft: { broker: async () => false, redis: () => Promise.reject(new Error('x')) },
    });
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      status: 'degraded',
      checks: { database: 'up', broker: 'down', redis: 'down' },
    });
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({
      status: 'degraded',
      checks: { database: 'up', broker: 'down', redis: 'down' },
    });
    // a hard one down as well: not ready
    const both = await service({
      checks: { database: async () => false },
      soft: { broker: async () => false },
    });
    const notReady = await both.app.inject({ method: 'GET', url: '/health/ready' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().status).toBe('not_ready');
  });
});

describe('the operations listener (OPS_PORT)', () => {
  const OPERATIONS = ['/health', '/health/live', '/health/ready', '/metrics', '/version'];

  it('is a port of its own for a public service, the service port for an internal one', () => {
    expect(operationsPort(8080, undefined, true)).toBe(9080);
    expect(operationsPort(8080, 7000, true)).toBe(7000);
    expect(operationsPort(0, undefined, true)).toBe(0);
    expect(() => operationsPort(8080, 8080, true)).toThrow(/a port of their own/);
    expect(operationsPort(8081, undefined, false)).toBeNull();
    expect(operationsPort(8081, 8081, false)).toBeNull();
    expect(operationsPort(8081, 9081, false)).toBe(9081);
  });

  it('a public service serves health, metrics and version there only, never on its own port', async () => {
    const env = { ...(await testEnvironment('chassis_ops')), DEBUG_TOKEN: TOKEN };
    const service = await startService({ ...counter, public: true }, { env });
    try {
      expect(service.ops).not.toBe(service.app);
      const at = (app: App) => `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      for (const url of OPERATIONS) {
        const open = await fetch(`${at(service.app)}${url}`);
        expect(open.status, url).toBe(404);
        expect(((await open.json()) as { error: { code: string } }).error.code).toBe('not_found');
        expect((await fetch(`${at(service.ops)}${url}`)).status, url).toBe(200);
      }
      const health = (await (await fetch(`${at(service.ops)}/health`)).json()) as { recent_logs: unknown };
      expect(Array.isArray(health.recent_logs)).toBe(true);
      // profiling, with the token, only where the public does not reach
      const profile = (app: App) =>
        fetch(`${at(app)}/debug/profile?seconds=1`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}` },
        });
      expect((await profile(service.app)).status).toBe(404);
      expect((await profile(service.ops)).status).toBe(200);
    } finally {
      await service.stop();
    }
  });

  it('an internal service serves them beside its routes, on one listener', async () => {
    const service = await startService(counter, { env: await testEnvironment('chassis_ops'), listen: false });
    try {
      expect(service.ops).toBe(service.app);
      for (const url of OPERATIONS) expect((await service.app.inject({ url })).statusCode, url).toBe(200);
    } finally {
      await service.stop();
    }
  });
});

describe('/debug/profile and /debug/heap-snapshot (node:inspector)', () => {
  const auth = { authorization: `Bearer ${TOKEN}` };

  it('a CPU profile of the given seconds, as a .cpuprofile', async () => {
    const { app } = await service({ public: false, env: { DEBUG_TOKEN: TOKEN } });
    const started = Date.now();
    const response = await app.inject({ method: 'POST', url: '/debug/profile?seconds=1', headers: auth });
    expect(response.statusCode).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['content-disposition']).toMatch(/\.cpuprofile"$/);
    const profile = response.json();
    expect(profile.nodes.length).toBeGreaterThan(0);
    expect(profile.nodes[0]).toMatchObject({ id: expect.any(Number), callFrame: expect.any(Object) });
    expect(profile.startTime).toBeLessThan(profile.endTime);
    expect(Array.isArray(profile.samples)).toBe(true);

    const tooLong = await app.inject({ method: 'POST', url: '/debug/profile?seconds=3600', headers: auth });
    expect(tooLong.statusCode).toBe(400);
  });

  it('a heap snapshot, streamed as a .heapsnapshot', async () => {
    const { app } = await service({ public: false, env: { DEBUG_TOKEN: TOKEN } });
    const response = await app.inject({ method: 'POST', url: '/debug/heap-snapshot', headers: auth });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-disposition']).toMatch(/\.heapsnapshot"$/);
    expect(response.body.startsWith('{"snapshot":{"meta":')).toBe(true);
    const snapshot = JSON.parse(response.body);
    expect(snapshot.snapshot.node_count).toBeGreaterThan(0);
    expect(snapshot.nodes.length).toBeGreaterThan(0);
  }, 60_000);

  it('answers 401 without the token or with a wrong one, before doing anything', async () => {
    const { app } = await service({ public: false, env: { DEBUG_TOKEN: TOKEN } });
    for (const url of ['/debug/profile?seconds=1', '/debug/heap-snapshot']) {
      for (const headers of [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: TOKEN },
        { authorization: `Bearer ${TOKEN}x` },
      ]) {
        const response = await app.inject({ method: 'POST', url, headers });
        expect(response.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(response.json().error.code).toBe('unauthorized');
      }
    }
  });

  it('is not there (404) without DEBUG_TOKEN, on a public service, or where publicness is unknown', async () => {
    const cases = [
      await service({ public: false, env: {} }),
      await service({ public: false, env: { DEBUG_TOKEN: '' } }),
      await service({ public: true, env: { DEBUG_TOKEN: TOKEN } }),
      await service({ env: { DEBUG_TOKEN: TOKEN } }),
    ];
    for (const { app } of cases)
      for (const url of ['/debug/profile?seconds=1', '/debug/heap-snapshot']) {
        const response = await app.inject({ method: 'POST', url, headers: auth });
        expect(response.statusCode).toBe(404);
      }
  });

  it('compares tokens whatever their lengths', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(undefined, TOKEN)).toBe(false);
    expect(tokenMatches('', TOKEN)).toBe(false);
    expect(tokenMatches(TOKEN.slice(0, -1), TOKEN)).toBe(false);
    expect(tokenMatches(`${TOKEN}${TOKEN}`, TOKEN)).toBe(false);
  });
});

describe('debug endpoints in a running service', () => {
  it('are served by an internal service when DEBUG_TOKEN is set, and only to its bearer', async () => {
    const env = { ...(await testEnvironment('chassis_debug')), DEBUG_TOKEN: 'a-debug-token-for-tests' };
    const service = await startService(counter, { env, listen: false });
    try {
      const denied = await service.app.inject({ method: 'POST', url: '/debug/profile?seconds=1' });
      expect(denied.statusCode).toBe(401);
      const profile = await service.app.inject({
        method: 'POST',
        url: '/debug/profile?seconds=1',
        headers: { authorization: 'Bearer a-debug-token-for-tests' },
      });
      expect(profile.statusCode).toBe(200);
      expect(profile.json().nodes.length).toBeGreaterThan(0);
    } finally {
      await service.stop();
    }
  });

  it('capture the SQL statements sent meanwhile, one capture at a time', async () => {
    const env = { ...(await testEnvironment('chassis_debug')), DEBUG_TOKEN: TOKEN };
    const service = await startService(counter, { env, listen: false });
    const capture = () =>
      service.app.inject({
        method: 'POST',
        url: '/debug/statements?seconds=1',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    try {
      const first = capture();
      // the readiness check asks the database (SELECT 1), meanwhile
      await service.app.inject({ method: 'GET', url: '/health/ready' });
      const second = await capture();
      expect(second.statusCode).toBe(409);
      expect(second.json().error.code).toBe('busy');
      const response = await first;
      expect(response.statusCode).toBe(200);
      const { statements } = response.json() as { statements: { connection: number; text: string }[] };
      expect(statements).toContainEqual({ connection: expect.any(Number), text: 'SELECT 1' });
    } finally {
      await service.stop();
    }
  });
});
