import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Upstream } from '../src/upstream.ts';
import { closedPort } from './network.ts';

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
    const market = new Upstream('market', `http://127.0.0.1:${await closedPort()}`, 1000);
    await expect(market.get('/market/quotes')).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('gives up on an upstream that does not answer in time', async () => {
    const market = new Upstream('market', silentUrl, 100);
    const started = Date.now();
    await expect(market.get('/market/quotes')).rejects.toMatchObject({
      statusCode: 503,
      code: 'service_unavailable',
      message: 'market is unavailable: no answer within 100 ms',
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
