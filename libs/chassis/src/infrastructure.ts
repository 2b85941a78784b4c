/** The infrastructure a service could not reach at start, with how to start it. */
export class InfrastructureError extends Error {
  override name = 'InfrastructureError';
}

const HOW_TO_START: Record<string, string> = {
  PostgreSQL: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  RabbitMQ: 'rabbitmq-server -detached',
  Redis:
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
};

export function infrastructureError(what: string, where: string, cause: unknown): InfrastructureError {
  const detail = (cause as Error)?.message || String(cause);
  return new InfrastructureError(
    `${what} is not reachable at ${redact(where)} (${detail}). Start it with: ${HOW_TO_START[what]}`,
    { cause },
  );
}

export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return (
    ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', '57P03'].includes(code ?? '') ||
    /timeout|terminated/i.test((error as Error)?.message ?? '')
  );
}

const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
