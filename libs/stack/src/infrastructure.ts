import { createConnection } from 'node:net';

export type ServerName = 'PostgreSQL' | 'RabbitMQ' | 'Redis';

export interface Infrastructure {
  name: ServerName;
  url: string;
  howToStart: string;
}

/** The three servers the system needs, at their default local addresses unless overridden. */
export function infrastructure(env: NodeJS.ProcessEnv = process.env): Infrastructure[] {
  return [
    {
      name: 'PostgreSQL',
      url: env.PGHOST_URL ?? 'postgres://postgres@127.0.0.1:5432',
      howToStart: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    },
    {
      name: 'RabbitMQ',
      url: env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      howToStart: 'rabbitmq-server -detached',
    },
    {
      name: 'Redis',
      url: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      howToStart:
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
    },
  ];
}

/** A server's URL as it may be printed: without its user and password. */
export const withoutCredentials = (url: string): string => url.replace(/\/\/[^@/]*@/, '//');

const DEFAULT_PORTS: Record<string, number> = { 'postgres:': 5432, 'amqp:': 5672, 'redis:': 6379 };

/**
 * Resolves when a connection to the server opens; rejects after `timeoutMs`. A PostgreSQL host
 * that is a directory (`postgres://user@%2Fvar%2Frun%2Fpostgresql`) is its Unix socket's.
 */
export function reachable(url: string, timeoutMs = 2000): Promise<void> {
  const { hostname, port, protocol } = new URL(url);
  const host = decodeURIComponent(hostname);
  const portNumber = Number(port || DEFAULT_PORTS[protocol]);
  return new Promise((resolve, reject) => {
    const socket = host.startsWith('/')
      ? createConnection({ path: `${host}/.s.PGSQL.${portNumber}` })
      : createConnection({ host, port: portNumber });
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error('timed out')));
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
  });
}

/** A server that did not answer, and the line that says how to start it. */
export interface MissingServer {
  name: ServerName;
  line: string;
}

/** The servers that do not answer at the addresses `env` gives (or the local defaults). */
export async function missingServers(env: NodeJS.ProcessEnv = process.env): Promise<MissingServer[]> {
  const results = await Promise.all(
    infrastructure(env).map(async (server) => {
      try {
        await reachable(server.url);
        return undefined;
      } catch (error) {
        const where = withoutCredentials(server.url);
        return {
          name: server.name,
          line: `${server.name} is not reachable at ${where} (${(error as Error).message}). Start it with: ${server.howToStart}`,
        };
      }
    }),
  );
  return results.filter((m): m is MissingServer => m !== undefined);
}

/** One line per missing server, saying which and how to start it; empty when all are up. */
export async function missingInfrastructure(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  return (await missingServers(env)).map((m) => m.line);
}
