import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger, createStatsd, defineService, startService } from '@simplebank/chassis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

// A real UDP socket stands in for the statsd_exporter: what it receives is what the exporter would.
let exporter: Socket;
let port: number;
let received: string[] = [];

beforeAll(async () => {
  exporter = createSocket('udp4');
  exporter.on('message', (packet) => received.push(...packet.toString('utf8').split('\n').filter(Boolean)));
  exporter.bind(0, '127.0.0.1');
  await once(exporter, 'listening');
  port = (exporter.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => exporter.close(() => resolve())));

beforeEach(() => {
  received = [];
});

const arrived = async (count: number) => {
  const until = Date.now() + 5000;
  while (received.length < count && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  return received;
};

/** `<prefix>.<service>.<name>:<ms>|ms`, the StatsD timer line, as the book's agent printed it. */
const timerLine = (name: string) => new RegExp(`^${name.replaceAll('.', '\\.')}:\\d+(\\.\\d+)?\\|ms$`);

describe('StatsD timers', () => {
  it('sends timing, timer and timed as StatsD timer packets prefixed with the service', async () => {
    const timers = createStatsd('fees', { host: '127.0.0.1', port });
    timers.timing('charge_fee', 12.3456);
    const stop = timers.timer('request_reservation');
    await new Promise((r) => setTimeout(r, 20));
    const elapsed = stop();
    const value = await timers.timed('place_order', async () => 'done');
    await expect(
      timers.timed('sell_shares', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    const lines = await arrived(4);
    await timers.close();
    expect(value).toBe('done');
    expect(elapsed).toBeGreaterThanOrEqual(15);
    expect(lines).toContain('simplebank.fees.charge_fee:12.346|ms');
    expect(lines.some((l) => timerLine('simplebank.fees.request_reservation').test(l))).toBe(true);
    expect(lines.some((l) => timerLine('simplebank.fees.place_order').test(l))).toBe(true);
    // a failure is timed too, like the book's decorator
    expect(lines.some((l) => timerLine('simplebank.fees.sell_shares').test(l))).toBe(true);
  });

  it('uses STATSD_PREFIX', async () => {
    const timers = createStatsd('market', { host: '127.0.0.1', port, prefix: 'simplebank-demo' });
    timers.timing('place_order_stock_exchange', 72.8);
    expect(await arrived(1)).toEqual(['simplebank-demo.market.place_order_stock_exchange:72.8|ms']);
    await timers.close();
  });

  it('costs nothing and logs nothing when no exporter listens', async () => {
    // a port nobody listens on: bind one, note it, close it
    const spare = createSocket('udp4');
    spare.bind(0, '127.0.0.1');
    await once(spare, 'listening');
    const closedPort = (spare.address() as AddressInfo).port;
    await new Promise<void>((resolve) => spare.close(() => resolve()));

    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger('fees', 'trace', { destination });
    const timers = createStatsd('fees', { host: '127.0.0.1', port: closedPort }, log);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) timers.timing('charge_fee', i);
    expect(await timers.timed('charge_fee', () => 42)).toBe(42);
    expect(performance.now() - started).toBeLessThan(500);
    await new Promise((r) => setTimeout(r, 100));
    await timers.close();
    expect(lines).toEqual([]);
  });

  it('logs an unresolvable STATSD_HOST once, not per packet', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger('fees', 'info', { destination });
    const timers = createStatsd('fees', { host: 'statsd-exporter.invalid', port }, log);
    for (let i = 0; i < 20; i++) timers.timing('charge_fee', i);
    const until = Date.now() + 5000;
    while (lines.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    await timers.close();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      level: 'warn',
      message: 'StatsD timers cannot be sent (logged once)',
    });
  });

  it("a service sends the book's health timer for GET /health, to STATSD_HOST:STATSD_PORT", async () => {
    const service = defineService({ name: 'probe', version: '0.0.0', port: 0, broker: false });
    const running = await startService(service, {
      env: { STATSD_HOST: '127.0.0.1', STATSD_PORT: String(port), LOG_LEVEL: 'silent' },
      listen: false,
    });
    try {
      expect((await running.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      await running.app.inject({ method: 'GET', url: '/version' });
      await running.context.statsd.timed('place_order', async () => undefined);
      const lines = await arrived(2);
      expect(lines.some((l) => timerLine('simplebank.probe.health').test(l))).toBe(true);
      expect(lines.some((l) => timerLine('simplebank.probe.place_order').test(l))).toBe(true);
      expect(lines.filter((l) => l.startsWith('simplebank.probe.health:'))).toHaveLength(1);
    } finally {
      await running.stop();
    }
  });
});
