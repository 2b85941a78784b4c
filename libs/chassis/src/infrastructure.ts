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

/** Socket errors of a connection to the database, and what pg and pg-pool say when it is gone. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P01', // admin_shutdown: the server is stopping, or killed this session
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
]);
const UNREACHABLE_MESSAGES =
  /timeout exceeded when trying to connect|Connection terminated|not queryable|Client was closed/;

/**
 * Whether `error`, as a query or a transaction threw it, means the database could not be reached
 * (connection refused, lost or timed out; the server shutting down or starting; class 08
 * connection exceptions) rather than anything about the work. Only the error itself is looked at,
 * not its causes: a handler's HTTP call refused by another service is that call's failure.
 */
export function isDatabaseUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && code !== '') return UNREACHABLE_CODES.has(code) || code.startsWith('08');
  return error instanceof Error && UNREACHABLE_MESSAGES.test(error.message);
}
