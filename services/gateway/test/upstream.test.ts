import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { createApp, createLogger, createMetrics, HttpError } from '@simplebank/chassis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUnavailable, Upstream } from '../src/upstream/upstream.ts';
import { closedPort } from './network.ts';

const quiet = { log: createLogger('gateway', 'silent'), metrics: createMetrics('gateway') };

// Only what the network can do to a call; answers of real upstreams are tested end to end.
describe('upstream', () => {
  let silent: Server;
  const sockets: Socket[] = [];
  let silentUrl: string;

  beforeAll(async () => {
    // accepts connections and never answers: a hung upstream
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('reports an upstream that is down as service_unavailable', async () => {
    const market = new Upstream('market', `http://127.0.0.1:${await closedPort()}`, 1000, quiet);
    await expect(market.get('/market/quotes')).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('gives up on an upstream that does not answer in time', async () => {
    const market = new Upstream('market', silentUrl, 100, quiet);
    const started = Date.now();
    await expect(market.get('/market/quotes')).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: 'market is unavailable: no answer within 100 ms',
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('has a circuit breaker per upstream that opens after failures and then answers at once', async () => {
    const lines: { message: string; target?: string }[] = [];
    const owner = {
      log: createLogger('gateway', 'info', {
        destination: { write: (l: string) => lines.push(JSON.parse(l)) },
      }),
      metrics: createMetrics('gateway'),
    };
    const down = `http://127.0.0.1:${await closedPort()}`;
    const breaker = { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 };
    const market = new Upstream('market', down, 1000, owner, { retries: 0, breaker });
    const fees = new Upstream('fees', down, 1000, owner, { retries: 0, breaker });
    for (let i = 0; i < 3; i++)
      await expect(market.get('/market/quotes')).rejects.toMatchObject({ statusCode: 503 });
    expect(market.circuit).toBe('open');
    expect(fees.circuit).toBe('closed'); // one breaker per upstream

    const error = await market.get('/market/quotes').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: 'market is unavailable: circuit open',
    });
    expect(isUnavailable(error)).toBe(true);
    expect(lines.filter((l) => l.message === 'circuit breaker opened')).toEqual([
      expect.objectContaining({ target: 'market' }),
    ]);
    const metrics = await owner.metrics.registry.metrics();
    expect(metrics).toMatch(/circuit_breaker_state\{target="market",service="gateway"\} 2/);
    expect(metrics).toMatch(/circuit_breaker_state\{target="fees",service="gateway"\} 0/);
    expect(metrics).toMatch(
      /http_client_calls_total\{target="market",method="GET",outcome="circuit_open",service="gateway"\} 1/,
    );
  });

  it('passes on a 4xx with its code, and retries a GET once by default', async () => {
    let hits = 0;
    const app = createApp(createLogger('upstream-test', 'silent'), createMetrics('upstream-test'));
    app.get('/missing', async (_request, reply) =>
      reply.status(404).send({ error: { code: 'gone', message: 'no' } }),
    );
    app.get('/flaky', async (_request, reply) =>
      ++hits === 1 ? reply.status(503).send({}) : reply.send({ ok: true }),
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const orders = new Upstream(
        'orders',
        `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
        1000,
        quiet,
      );
      await expect(orders.get('/missing')).rejects.toMatchObject({ statusCode: 404, code: 'gone' });
      const notFound = new HttpError(404, 'order_not_found', 'no order');
      await expect(orders.get('/missing', { notFound })).rejects.toBe(notFound);
      expect(await orders.get('/flaky')).toEqual({ ok: true });
      expect(hits).toBe(2);
    } finally {
      await app.close();
    }
  });

  it("gives an upstream no more time than the customer's request has left (its x-budget-ms)", async () => {
    const market = new Upstream('market', silentUrl, 2000, quiet);
    const app = createApp(createLogger('upstream-test', 'silent'), createMetrics('upstream-test'));
    // like the gateway's routes: the request is not handed to the upstream, its deadline follows
    app.get('/quotes', async () => market.get('/market/quotes'));
    await app.ready();
    const started = Date.now();
    const response = await app.inject({
      url: '/quotes',
      headers: { 'x-budget-ms': '150' },
    });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.message).toMatch(
      /^market is unavailable: no answer within \d+ ms \(the deadline\)$/,
    );
    expect(Date.now() - started).toBeLessThan(1000);
    await app.close();
  });
});
