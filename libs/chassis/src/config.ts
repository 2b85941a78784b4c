import { type Static, type TObject, type TProperties, Type } from 'typebox';
import Value from 'typebox/value';

/** Settings every service has. Defaults work on a developer machine with the local services. */
export const BaseConfig = Type.Object({
  /**
   * `development` (the default) or `test` on a developer's machine and in the demo stacks; any other
   * value (`production`, `prod`, `staging`, …) is production, where the services refuse demo data
   * and published secrets (`isProduction`). The images set `production`.
   */
  NODE_ENV: Type.String({ default: 'development' }),
  HOST: Type.String({ default: '127.0.0.1' }),
  /** HTTP port; each service has its own default. */
  PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  /**
   * Port of the operations routes (/health*, /metrics, /version, /debug/*): PORT for an internal
   * service (one listener), PORT + 1000 for a public one, which never serves them on PORT.
   */
  OPS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  AMQP_URL: Type.String({ default: 'amqp://guest:guest@127.0.0.1:5672' }),
  /**
   * The producers' broker users, `{service}` standing for the producer's name (e.g.
   * `simplebank.{service}`): an event whose `user_id` is not its producer's is parked. Unset: derived
   * from this service's own user (senders.ts, `publisherUser`).
   */
  AMQP_PUBLISHER_USERS: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * Bearer credential of the administrative routes (/admin/*, and those that create money or
   * customers). Unset: they refuse every caller.
   */
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  /**
   * RabbitMQ declares a silent connection dead after this long (two missed heartbeats), and hands a
   * paused or cut-off instance's unacked messages to the others; the library's 60 s is a long stall.
   */
  AMQP_HEARTBEAT_SECONDS: Type.Integer({ minimum: 0, maximum: 600, default: 15 }),
  /**
   * How long a starting instance waits for RabbitMQ before it gives up and exits. Many instances
   * starting at once (a rollout, the chaos suite's twelve on two cores) can keep a busy broker from
   * answering within a few seconds.
   */
  AMQP_STARTUP_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 15_000 }),
  /** A service's database is `<DATABASE_PREFIX><service>`, unless DATABASE_URL names one. */
  PGHOST_URL: Type.String({ default: 'postgres://postgres@127.0.0.1:5432' }),
  DATABASE_PREFIX: Type.String({ default: 'simplebank_' }),
  DATABASE_URL: Type.Optional(Type.String()),
  /** Connections to the service's database; its event handlers and RPC methods together run at most one fewer. */
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  /**
   * Parameterised statements are prepared once per connection and then only bound (database.ts),
   * instead of parsed and planned each time. A migration that changes what a `SELECT *` returns
   * makes the instances still running fail such a statement until their connections are renewed.
   */
  DATABASE_PREPARED_STATEMENTS: Type.Boolean({ default: true }),
  /** A statement waiting this long for a lock fails (55P03) instead of queueing behind it. 0: never. */
  DATABASE_LOCK_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 5000 }),
  /** A statement running this long is cancelled (57014). 0: never. */
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 15_000 }),
  /** A session idle this long inside a transaction is ended, releasing its locks. 0: never. */
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: Type.Integer({ minimum: 0, default: 30_000 }),
  /**
   * Inbox rows (messages handled, kept to recognise a redelivery) are deleted after this many
   * hours. Longer than any redelivery, replays of parked messages included (README).
   */
  INBOX_RETENTION_HOURS: Type.Integer({ minimum: 1, default: 7 * 24 }),
  PREFETCH: Type.Integer({ minimum: 1, maximum: 500, default: 20 }),
  /**
   * Most messages and RPC requests handled in one transaction (batching.ts): a batch is what
   * arrived while the last one ran. 1 handles each in a transaction of its own.
   */
  HANDLER_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 500, default: 64 }),
  /** Batches a service instance runs at once (each holds one database connection). */
  HANDLER_BATCHES: Type.Integer({ minimum: 1, maximum: 100, default: 1 }),
  /** Runs of a failing handler before its message is parked in the dead-letter queue. */
  HANDLER_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
  /** Waits before the 2nd, 3rd, … run of a failing handler (the last repeats), ±20 % jitter. */
  RETRY_DELAYS_MS: Type.String({ pattern: '^\\d+(,\\d+)*$', default: '1000,5000,30000' }),
  RPC_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 5000 }),
  /** A public service's deadline for each request it is sent (it trusts no caller's). */
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 10_000 }),
  /**
   * The proxies in front of a public service (addresses or CIDRs, comma-separated): only when the
   * connection comes from one of them is its `X-Forwarded-For` believed for the client's address.
   * Empty: none, every caller is the address it connects from.
   */
  TRUSTED_PROXIES: Type.String({ pattern: '^[0-9A-Fa-f.:/, ]*$', default: '' }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 10_000 }),
  GIT_COMMIT: Type.String({ default: 'unknown' }),
  /** The StatsD exporter the book's timers go to, over UDP (statsd/mapping.yml). */
  STATSD_HOST: Type.String({ default: '127.0.0.1' }),
  STATSD_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8125 }),
  /** Metric names are `<STATSD_PREFIX>.<service>.<timer>`. */
  STATSD_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_-]+$', default: 'simplebank' }),
  /** Fault switch (also `PUT /admin/faults`): wait this long before each event handler runs… */
  FAULT_HANDLER_DELAY_MS: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 0 }),
  /** …and then fail it with this probability (0 to 1), through the normal retry path. */
  FAULT_HANDLER_FAILURE_RATE: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
});
export type BaseConfig = Static<typeof BaseConfig>;

/** Whether the service runs in production: NODE_ENV other than `development` or `test` (fail closed). */
export const isProduction = (config: { NODE_ENV: string }): boolean =>
  config.NODE_ENV !== 'development' && config.NODE_ENV !== 'test';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Names of variables whose values are secrets, and URLs that carry a password. */
const SECRET_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL/i;
const CREDENTIALS_IN_URL = /:\/\/[^/@\s]*:[^/@\s]*@/;

/** Whether a variable's value is a secret: never printed, nor written to a unit file (cli.ts). */
export function isSecret(name: string, value: string): boolean {
  return SECRET_NAME.test(name) || CREDENTIALS_IN_URL.test(value);
}

/**
 * What a config error says a variable held: configuration errors go to stderr and from there to
 * the log pipeline, so a secret's value is never shown (only its length), and the user:password
 * part of anything URL-like is masked.
 */
function shown(variable: string, value: string): string {
  if (isSecret(variable, value)) return `a value of ${value.length} characters, not shown`;
  return JSON.stringify(value.replace(/[^\s/@]+@/g, '***@'));
}

/**
 * Reads the environment into a typed config: base settings plus the service's own.
 * Throws a ConfigError naming the variable and what it should be.
 */
export function loadConfig<P extends TProperties>(
  own: TObject<P>,
  env: NodeJS.ProcessEnv = process.env,
): BaseConfig & Static<TObject<P>> {
  const schema = Type.Object({ ...BaseConfig.properties, ...own.properties });
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const withDefaults = Value.Default(schema, raw);
  const converted = Value.Convert(schema, withDefaults);
  const errors = [...Value.Errors(schema, converted)];
  if (errors.length > 0) {
    const problems = errors.map((e) => {
      const variable = e.instancePath.replace(/^\//, '') || Object.values(e.params ?? {})[0] || '(config)';
      const got = typeof variable === 'string' ? env[variable] : undefined;
      return `${variable} ${e.message}${got === undefined ? '' : ` (got ${shown(String(variable), got)})`}`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return converted as BaseConfig & Static<TObject<P>>;
}
