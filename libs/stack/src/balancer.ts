import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** One instance behind a balancer. */
export interface Backend {
  host?: string;
  port: number;
  /** False: skipped without a try (its process is not running). Absent: always tried. */
  running?: () => boolean;
}

/**
 * A round-robin TCP balancer, the stand-in for a Kubernetes Service in front of a service's
 * instances. Each connection goes to the next backend that is running; when connecting to it
 * fails (refused: the instance is starting, stopping or gone) it tries the following one, and
 * when none is left it closes the client's socket. It balances connections, not requests: a
 * kept-alive HTTP connection stays with its instance until either side closes it. It has no
 * health checks: a frozen (SIGSTOP) instance still accepts connections, in the kernel, and gets
 * its share, as behind a real balancer until a readiness probe fails.
 */
export class Balancer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private next = 0;

  constructor(private readonly backends: readonly Backend[]) {
    if (backends.length === 0) throw new Error('a balancer needs at least one backend');
    this.server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) =>
      this.accept(client),
    );
  }

  /** Listens on `host:port` (0: any free port) and resolves with the port. */
  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.server.listen(port, host);
    await Promise.race([
      once(this.server, 'listening'),
      once(this.server, 'error').then(([e]) => Promise.reject(e)),
    ]);
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('balancer has no TCP address');
    return address.port;
  }

  /** Stops accepting, drops every connection still open (both sides) and resolves once closed. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = once(this.server, 'close');
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private accept(client: Socket): void {
    this.track(client);
    client.on('error', () => client.destroy());
    const start = this.next;
    this.next = (this.next + 1) % this.backends.length;
    const order = this.backends.map((_, k) => this.backends[(start + k) % this.backends.length] as Backend);
    this.connect(client, order);
  }

  /** Tries `order`'s backends in turn until one accepts, then pipes both ways. */
  private connect(client: Socket, order: Backend[]): void {
    let backend = order.shift();
    while (backend?.running && !backend.running()) backend = order.shift();
    if (!backend || client.destroyed) {
      client.destroy();
      return;
    }
    const upstream = createConnection({
      host: backend.host ?? '127.0.0.1',
      port: backend.port,
      allowHalfOpen: true,
    });
    this.track(upstream);
    let connected = false;
    const clientGone = () => upstream.destroy();
    client.once('close', clientGone);
    upstream.on('error', () => {
      upstream.destroy();
      if (connected) {
        client.destroy();
      } else {
        client.off('close', clientGone);
        this.connect(client, order);
      }
    });
    upstream.once('connect', () => {
      connected = true;
      // pipe() carries each side's end (FIN) to the other; both allow half-open connections so
      // a client that ends its request still gets the whole response.
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.once('close', () => {
      if (!connected || client.destroyed) return;
      // The instance closed (exited, or closed an idle keep-alive connection): the client's
      // side ends once everything already received is written.
      if (client.writableFinished) client.destroy();
      else {
        client.once('finish', () => client.destroy());
        if (!client.writableEnded) client.end();
      }
    });
  }
}
