import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, createServer as createTcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Backend, Balancer } from '../src/balancer.ts';
import { get } from './http.ts';

/** A fake instance: answers every request with its name. */
async function instance(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    // Echoes a body back, to see it cross the balancer both ways.
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => response.end(chunks.length > 0 ? Buffer.concat(chunks) : name));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/** A port nothing listens on: connecting is refused. */
async function refusedPort(): Promise<number> {
  const { server, port } = await instance('gone');
  server.close();
  await once(server, 'close');
  return port;
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function balance(backends: Backend[]): Promise<string> {
  const balancer = new Balancer(backends);
  cleanup.push(() => balancer.close());
  return `http://127.0.0.1:${await balancer.listen(0)}`;
}

async function instances<N extends string>(
  ...names: N[]
): Promise<Record<N, { server: Server; port: number }>> {
  const started = await Promise.all(names.map(instance));
  cleanup.push(async () => {
    for (const { server } of started) {
      server.closeAllConnections();
      server.close();
    }
  });
  return Object.fromEntries(names.map((name, i) => [name, started[i]])) as Record<
    N,
    { server: Server; port: number }
  >;
}

/** `count` requests, each on a connection of its own, one after the other. */
async function names(url: string, count: number): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < count; i++) answers.push((await get(url)).body);
  return answers;
}

describe('Balancer', () => {
  it('sends each connection to the next instance, round robin', async () => {
    const { a, b, c } = await instances('a', 'b', 'c');
    const url = await balance([a, b, c].map((s) => ({ port: s.port })));
    expect(await names(url, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('skips an instance that is not running, without trying it', async () => {
    const { a, b } = await instances('a', 'b');
    let bRunning = true;
    const url = await balance([{ port: a.port }, { port: b.port, running: () => bRunning }]);
    expect(await names(url, 2)).toEqual(['a', 'b']);
    bRunning = false;
    expect(await names(url, 4)).toEqual(['a', 'a', 'a', 'a']);
    bRunning = true;
    expect((await names(url, 4)).sort()).toEqual(['a', 'a', 'b', 'b']);
  });

  it('tries the next instance when one refuses the connection (stopped, not yet listening)', async () => {
    const { a, c } = await instances('a', 'c');
    const url = await balance([{ port: a.port }, { port: await refusedPort() }, { port: c.port }]);
    // the second connection finds b refused and goes on to c
    expect(await names(url, 6)).toEqual(['a', 'c', 'c', 'a', 'c', 'c']);
  });

  it('closes the client socket when no instance is running or accepting', async () => {
    const url = await balance([{ port: await refusedPort() }, { port: 1, running: () => false }]);
    await expect(get(url)).rejects.toThrow(/socket hang up|ECONNRESET/);
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    await once(socket, 'close');
    expect(received).toEqual([]);
  });

  it('carries a whole request and response both ways', async () => {
    const { a } = await instances('a');
    const url = await balance([{ port: a.port }]);
    const body = 'x'.repeat(1_000_000);
    expect((await get(url, { method: 'POST', body })).body).toBe(body);
  });

  it('passes on a client half-closing: the instance sees the end and its answer still comes back', async () => {
    // answers only once the client has ended its side
    const echo = createTcpServer({ allowHalfOpen: true }, (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => socket.end(`echo:${Buffer.concat(chunks)}`));
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    cleanup.push(async () => echo.close());
    const url = await balance([{ port: (echo.address() as AddressInfo).port }]);
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.end('ping');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    await once(socket, 'close');
    expect(Buffer.concat(received).toString()).toBe('echo:ping');
  });

  it('drops the client connection when its instance goes away mid-connection', async () => {
    const { a } = await instances('a');
    const url = await balance([{ port: a.port }]);
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    await once(socket, 'connect');
    // wait until the balancer is through to the instance, then kill every connection it has
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    await once(socket, 'data');
    a.server.closeAllConnections();
    await once(socket, 'close');
  });

  it('close() stops listening and ends the connections still open', async () => {
    const { a } = await instances('a');
    const balancer = new Balancer([{ port: a.port }]);
    const port = await balancer.listen(0);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'); // keep-alive: stays open
    await once(socket, 'data');
    await balancer.close();
    await once(socket, 'close');
    await expect(get(`http://127.0.0.1:${port}`)).rejects.toThrow(/ECONNREFUSED/);
  });
});
