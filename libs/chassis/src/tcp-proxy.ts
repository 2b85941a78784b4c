import { once } from 'node:events';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A TCP proxy to a real service (PostgreSQL, RabbitMQ) that a test can cut, as a network partition
 * or a stopped server would, and restore on the same port: `cut()` drops every connection and
 * refuses new ones (ECONNREFUSED), `blackHole()` keeps them open and lets nothing through (a silent
 * partition), `restore()` forwards again.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Client sockets and their upstreams, to stop and resume forwarding between them. */
  private readonly pairs = new Set<{ client: Socket; upstream: Socket | undefined }>();
  private blackHoled = false;

  private constructor(
    private readonly target: { host: string; port: number },
    public port = 0,
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await proxy.restore();
    return proxy;
  }

  /** Connections accepted and not yet closed (black-holed ones too). */
  get connections(): number {
    return this.pairs.size;
  }

  /** `url` with its host and port replaced by the proxy's. */
  through(url: string): string {
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(this.port);
    return proxied.toString();
  }

  /** Forwards again: new connections go through, and black-holed ones resume where they stopped. */
  async restore(): Promise<void> {
    if (this.blackHoled) {
      this.blackHoled = false;
      for (const pair of this.pairs) this.forward(pair);
    }
    if (this.server) return;
    const server = createServer((client) => {
      const pair: { client: Socket; upstream: Socket | undefined } = { client, upstream: undefined };
      this.track(client, pair);
      // a connection opened into a black hole is accepted and left unanswered until restored
      if (!this.blackHoled) this.forward(pair);
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** A partition that resets: every connection is closed and new ones are refused. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.blackHoled = false;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /**
   * A partition that drops packets silently: connections stay open, nothing crosses in either
   * direction, new connections are accepted and never answered. Only timeouts notice it.
   */
  blackHole(): void {
    this.blackHoled = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe();
      upstream?.unpipe();
      client.pause();
      upstream?.pause();
    }
  }

  close(): Promise<void> {
    return this.cut();
  }

  private forward(pair: { client: Socket; upstream: Socket | undefined }): void {
    if (!pair.upstream) {
      const upstream = tcpConnect(this.target);
      pair.upstream = upstream;
      this.track(upstream, pair);
      pair.client.on('close', () => upstream.destroy());
      upstream.on('close', () => pair.client.destroy());
    }
    pair.client.pipe(pair.upstream).pipe(pair.client);
    pair.client.resume();
    pair.upstream.resume();
  }

  private track(socket: Socket, pair: { client: Socket; upstream: Socket | undefined }): void {
    this.sockets.add(socket);
    this.pairs.add(pair);
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.pairs.delete(pair);
    });
    socket.on('error', () => undefined); // the other side is destroyed on close
  }
}
