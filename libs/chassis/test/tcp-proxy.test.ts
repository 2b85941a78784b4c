import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy, waitFor } from '../src/testing.ts';

let echo: Server;
let proxy: TcpProxy;

beforeAll(async () => {
  echo = createServer((socket) => socket.pipe(socket));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  proxy = await TcpProxy.start({ host: '127.0.0.1', port: (echo.address() as { port: number }).port });
});

afterAll(async () => {
  await proxy.close();
  echo.close();
});

/** A client of the echo server through the proxy, and everything it has heard so far. */
async function client(): Promise<{ socket: Socket; heard: () => string }> {
  const socket = connect(proxy.port, '127.0.0.1');
  let heard = '';
  socket.on('data', (chunk) => {
    heard += chunk.toString();
  });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return { socket, heard: () => heard };
}

describe('TcpProxy', () => {
  it('forwards, black-holes silently (connections stay open), then resumes where it stopped', async () => {
    const early = await client();
    early.socket.write('a');
    await waitFor('the echo', () => early.heard() === 'a');

    proxy.blackHole();
    early.socket.write('b');
    const late = await client(); // accepted, never answered
    late.socket.write('c');
    // nothing crosses for a while; the connections are not closed either
    await expect(
      waitFor('an echo through the black hole', () => early.heard() !== 'a', { timeoutMs: 300 }),
    ).rejects.toThrow();
    expect(early.socket.destroyed || late.socket.destroyed).toBe(false);

    await proxy.restore();
    await waitFor('the held bytes to arrive', () => early.heard() === 'ab' && late.heard() === 'c');
    early.socket.destroy();
    late.socket.destroy();
  });

  it('cuts: connections close and new ones are refused, until restored', async () => {
    const open = await client();
    const closed = once(open.socket, 'close');
    await proxy.cut();
    await closed;
    const refused = connect(proxy.port, '127.0.0.1');
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
    await proxy.restore();
    const again = await client();
    again.socket.write('d');
    await waitFor('the echo after restore', () => again.heard() === 'd');
    again.socket.destroy();
  });
});
