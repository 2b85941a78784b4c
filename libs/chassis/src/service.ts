import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { type Envelope, type EventDefinition, type PayloadOf, subscriptions } from '@simplebank/contracts';
import type { Static, TObject, TProperties, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { BatchRunner, JobExpired } from './batching.ts';
import { serviceCli } from './cli.ts';
import { type BaseConfig, ConfigError, loadConfig } from './config.ts';
import { createPool, ensureDatabase, migrate, type Pool, type Tx, transaction } from './database.ts';
import { DatabaseGate } from './database-gate.ts';
import { FaultSwitch, registerFaultRoutes } from './faults.ts';
import { registerChassisRoutes } from './health.ts';
import { type App, createApp, HttpError, operationsListener, trustedProxies } from './http.ts';
import { InfrastructureError, infrastructureError, isConnectionError } from './infrastructure.ts';
import { createLogger, type Logger, RecentEntries } from './logger.ts';
import { Broker, RpcError } from './messaging.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { type Cause, OutboxBuffer, OutboxDispatcher, OutboxRelay, type Publish } from './outbox.ts';
import { InboxRetention } from './retention.ts';
import { Slots } from './slots.ts';
import { createStatsd, type Timers } from './statsd.ts';
import { handlerQueue, liveQueue } from './topology.ts';
import { flushTelemetry } from './tracing.ts';

export { InfrastructureError, infrastructureError };

/** What a handler, RPC method or route of a service gets from the chassis. */
export interface ServiceContext<C> {
  name: string;
  config: BaseConfig & C;
  log: Logger;
  metrics: Metrics;
  /** The book's StatsD timers: `svc.statsd.timed('charge_fee', () => …)` (statsd.ts). */
  statsd: Timers;
  /** The service's own database; absent for services without migrations. */
  pool: Pool;
  broker: Broker;
  /**
   * Runs `work` in one transaction whose `publish` writes to the outbox; `afterCommit` callbacks run
   * once the transaction has committed (to wake a worker for what it just made visible).
   */
  transaction<T>(
    cause: Cause,
    work: (tx: Tx, publish: Publish, afterCommit: AfterCommit) => Promise<T>,
  ): Promise<T>;
}

export type AfterCommit = (callback: () => void) => void;

export interface HandlerContext {
  tx: Tx;
  publish: Publish;
  afterCommit: AfterCommit;
  log: Logger;
  envelope: Envelope;
}

export interface EventHandler {
  event: EventDefinition;
  handle(payload: unknown, ctx: HandlerContext): Promise<void>;
}

/** Declares a handler of `event`; it runs in one transaction with its inbox row and outbox rows. */
export function on<E extends EventDefinition>(
  event: E,
  handle: (payload: PayloadOf<E>, ctx: HandlerContext) => Promise<void>,
): EventHandler {
  if (event.delivery !== 'saga') throw new Error(`${event.name} is live news: listen to it with listen()`);
  return { event, handle: handle as EventHandler['handle'] };
}

/** A listener of a `live` event: news to pass on, on a queue of this instance's own. */
export interface EventListener {
  event: EventDefinition;
  handle(payload: unknown, ctx: { log: Logger; envelope: Envelope }): void | Promise<void>;
}

/**
 * Declares a listener of a `live` event (docs/architecture.md §3): every running
 * instance gets every such event on an exclusive, auto-deleted queue of its own, unlike a handler's
 * durable queue shared by the instances. No transaction, inbox or retries: for news like an order's
 * status, to push to the browsers connected to this instance.
 */
export function listen<E extends EventDefinition>(
  event: E,
  handle: (payload: PayloadOf<E>, ctx: { log: Logger; envelope: Envelope }) => void | Promise<void>,
): EventListener {
  if (event.delivery !== 'live') throw new Error(`${event.name} is a saga event: consume it with on()`);
  return { event, handle: handle as EventListener['handle'] };
}

export interface RpcContext {
  tx: Tx;
  publish: Publish;
  afterCommit: AfterCommit;
  log: Logger;
  correlationId: string;
}

export interface RpcMethod {
  params: TSchema;
  handle(params: unknown, ctx: RpcContext): Promise<unknown>;
}

/** Declares an RPC method whose params are validated against `params` before `handle` runs. */
export function command<S extends TSchema, R>(
  params: S,
  handle: (params: Static<S>, ctx: RpcContext) => Promise<R>,
): RpcMethod {
  return { params, handle: handle as RpcMethod['handle'] };
}

/** Something long-running a service owns besides its handlers, like a poller. */
export interface Worker {
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

type Context<P extends TProperties> = ServiceContext<Static<TObject<P>>>;

export interface ServiceDefinition<P extends TProperties, S = undefined> {
  name: string;
  version: string;
  /** Default HTTP port; PORT overrides it. */
  port: number;
  /** The service's own environment variables, validated at start. */
  config?: TObject<P>;
  /** Directory of `*.sql` migrations; a service with migrations gets a database. */
  migrations?: URL;
  /**
   * Runs once per start, after the migrations and before the service takes any work: start-up
   * checks and data that need the database. A ConfigError it throws stops the start with its
   * message, in one line.
   */
  prepare?: (svc: { config: Static<TObject<P>> & BaseConfig; pool: Pool; log: Logger }) => Promise<void>;
  /** Whether the service talks to RabbitMQ (default true). */
  broker?: boolean;
  /** Every event the service publishes; publishing another one throws (docs/asyncapi.json). */
  publishes?: EventDefinition[];
  /**
   * Builds, once per start, what handlers, routes and workers share: clients, caches, workers.
   * `svc.pool` and `svc.broker` exist by then (the broker declares its topology just after).
   */
  setup?: (svc: Context<P>) => S;
  handlers?: (svc: Context<P>, shared: S) => Record<string, EventHandler>;
  /** Listeners of `live` events, one queue per running instance (`listen`). */
  listeners?: (svc: Context<P>, shared: S) => Record<string, EventListener>;
  rpc?: (svc: Context<P>, shared: S) => Record<string, RpcMethod>;
  routes?: (app: App, svc: Context<P>, shared: S) => void | Promise<void>;
  workers?: (svc: Context<P>, shared: S) => Worker[];
  /**
   * What the service cannot serve without besides its database (name → ok?): one down makes it
   * unready, and the orchestrator sends it no requests.
   */
  readiness?: (svc: Context<P>, shared: S) => Record<string, () => Promise<boolean>>;
  /**
   * What it serves without, worse (name → ok?), like the broker for every service: one down shows
   * as `degraded` in /health and leaves it ready, so its reads keep working.
   */
  degradedWithout?: (svc: Context<P>, shared: S) => Record<string, () => Promise<boolean>>;
  /**
   * Whether the chassis serves `GET/PUT /admin/faults`, the switch that slows or fails the
   * service's event handlers (default true; false for a service with an /admin/faults of its own).
   */
  adminFaults?: boolean;
  /**
   * Faces the public (the gateway): it ignores callers' `x-budget-ms` headers and gives each
   * request REQUEST_TIMEOUT_MS instead, serves no /admin routes, takes a client's address from
   * `X-Forwarded-For` only when the connection comes from one of TRUSTED_PROXIES, and serves its
   * operations routes (health, metrics, version, debug) only on a listener of their own (OPS_PORT).
   */
  public?: boolean;
}

export function defineService<P extends TProperties, S = undefined>(
  definition: ServiceDefinition<P, S>,
): ServiceDefinition<P, S> {
  return definition;
}

export interface RunningService {
  /** The service's API (for a public service, what the public reaches). */
  app: App;
  /**
   * Its operations routes: `app` itself unless a public service's, which are an app of their own
   * (OPS_PORT). An internal service with OPS_PORT serves them, and its administrative routes, from
   * `app` on a second listener (`opsServer`), where only they answer (`app.inject` reaches the rest).
   */
  ops: App;
  /** The server its operations routes answer on: `ops.server`, or an internal service's second one. */
  opsServer: Server;
  context: ServiceContext<unknown>;
  /** The fault switch of its event handlers (also at `/admin/faults`). */
  faults: FaultSwitch;
  /** Graceful stop: HTTP, then consumers (in-flight work finishes), workers, outbox flush, close. */
  stop(): Promise<void>;
}

const chassisMigrations = fileURLToPath(new URL('../migrations/', import.meta.url));

export async function startService<P extends TProperties, S>(
  definition: ServiceDefinition<P, S>,
  options: { env?: NodeJS.ProcessEnv; listen?: boolean } = {},
): Promise<RunningService> {
  const env = options.env ?? process.env;
  const { name } = definition;
  const config = loadConfig(definition.config ?? ({ properties: {} } as TObject<P>), env) as BaseConfig &
    Static<TObject<P>>;
  const port = config.PORT ?? definition.port;
  const opsPort = operationsPort(port, config.OPS_PORT, definition.public ?? false);
  const recent = new RecentEntries();
  const log = createLogger(name, config.LOG_LEVEL, { recent });
  const metrics = createMetrics(name);
  const statsd = createStatsd(
    name,
    { host: config.STATSD_HOST, port: config.STATSD_PORT, prefix: config.STATSD_PREFIX },
    log,
  );

  let pool: Pool | undefined;
  let databaseUrl = '';
  if (definition.migrations) {
    const database = `${config.DATABASE_PREFIX}${name.replaceAll('-', '_')}`;
    databaseUrl = config.DATABASE_URL ?? `${config.PGHOST_URL}/${database}`;
    try {
      if (!config.DATABASE_URL) await ensureDatabase(config.PGHOST_URL, database);
      pool = createPool(
        databaseUrl,
        config.DATABASE_POOL_SIZE,
        {
          lockTimeoutMs: config.DATABASE_LOCK_TIMEOUT_MS,
          statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
          idleInTransactionTimeoutMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
        },
        () => metrics.dbStatements.inc(),
        { prepare: config.DATABASE_PREPARED_STATEMENTS },
      );
      pool.on('error', (error) => log.warn({ error }, 'idle PostgreSQL connection failed'));
      const ran = await migrate(pool, [chassisMigrations, fileURLToPath(definition.migrations)]);
      if (ran.length > 0) log.info({ migrations: ran }, 'migrations applied');
      await definition.prepare?.({ config, pool, log });
    } catch (error) {
      await pool?.end().catch(() => undefined);
      throw isConnectionError(error)
        ? infrastructureError('PostgreSQL', databaseUrl || config.PGHOST_URL, error)
        : error;
    }
  }

  // filled in below: pool, transaction and broker, before setup sees it
  const context: Partial<ServiceContext<Static<TObject<P>>>> = { name, config, log, metrics, statsd };
  const svc = context as ServiceContext<Static<TObject<P>>>;
  const publishes = definition.publishes ?? [];
  svc.pool = pool as Pool;
  // sends what each transaction published once it has committed (outbox.ts); set with the broker
  let dispatcher: OutboxDispatcher | undefined;
  const outbox = () => new OutboxBuffer(name, publishes);
  svc.transaction = async (cause, work) => {
    const committed: (() => void)[] = [];
    const buffer = outbox();
    const result = await transaction(svc.pool, async (tx) => {
      const result = await work(tx, buffer.publisher(cause), (callback) => committed.push(callback));
      await buffer.write(tx);
      return result;
    });
    dispatcher?.dispatch(buffer);
    for (const callback of committed) callback();
    return result;
  };

  // Every handler and RPC method runs in a transaction: together they take at most the pool less
  // one connection, which stays for the outbox relay (the events they commit keep going out), the
  // readiness check and the routes. PREFETCH only says how many messages wait in memory.
  const handlerSlots = new Slots(
    pool ? Math.max(1, config.DATABASE_POOL_SIZE - 1) : Number.POSITIVE_INFINITY,
  );
  // Messages wait for their batch in memory, not for a connection: every prefetched one is taken.
  const consuming = { prefetch: config.PREFETCH, concurrency: config.PREFETCH };

  // while the database is unreachable, event handlers hold their messages (database-gate.ts)
  const gate = pool ? new DatabaseGate(() => svc.pool.query('SELECT 1'), log, metrics) : undefined;

  // The broker exists, not yet declared, when setup runs: what setup builds may hold it
  if (definition.broker !== false) {
    svc.broker = new Broker(config.AMQP_URL, name, log, metrics, {
      publishes,
      retry: { attempts: config.HANDLER_ATTEMPTS, delaysMs: config.RETRY_DELAYS_MS.split(',').map(Number) },
      heartbeatSeconds: config.AMQP_HEARTBEAT_SECONDS,
      publisherUsers: config.AMQP_PUBLISHER_USERS,
    });
  }
  let shared: S;
  try {
    shared = definition.setup?.(svc) as S;
  } catch (error) {
    await svc.broker?.connection.close().catch(() => undefined);
    await pool?.end();
    throw error;
  }
  const handlers = definition.handlers?.(svc, shared) ?? {};
  const rpcMethods = definition.rpc?.(svc, shared) ?? {};
  const handlerQueues = Object.entries(handlers).map(([handler, { event }]) => ({
    queue: handlerQueue(event, name, handler),
    event,
    handler,
  }));
  const listeners = definition.listeners?.(svc, shared) ?? {};
  const instance = randomUUID().slice(0, 8);
  const liveQueues = Object.entries(listeners).map(([handler, { event }]) => ({
    queue: liveQueue(event, name, handler, instance),
    event,
    handler,
  }));
  const topology = {
    publishes: publishes.map((e) => e.name),
    consumes: [...handlerQueues, ...liveQueues].map(({ event, handler }) => ({ event: event.name, handler })),
  };
  const undescribed = undescribedTopology(name, publishes, [...handlerQueues, ...liveQueues]);
  if (undescribed.length > 0) {
    log.error(
      { undescribed },
      'the event contracts (docs/asyncapi.json) do not describe all this service does',
    );
  }

  if (svc.broker) {
    try {
      await svc.broker.declareTopology(config.AMQP_STARTUP_TIMEOUT_MS, handlerQueues);
    } catch (error) {
      await svc.broker.connection.close().catch(() => undefined);
      await pool?.end();
      throw infrastructureError('RabbitMQ', config.AMQP_URL, error);
    }
  }

  const faults = new FaultSwitch(
    {
      handler_delay_ms: config.FAULT_HANDLER_DELAY_MS,
      handler_failure_rate: config.FAULT_HANDLER_FAILURE_RATE,
    },
    log,
  );
  const app = createApp(
    log,
    metrics,
    definition.public
      ? {
          public: {
            requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
            trustedProxies: trustedProxies(config.TRUSTED_PROXIES),
          },
        }
      : { adminToken: config.ADMIN_TOKEN, operationsListener: opsPort !== null },
  );
  // Health details, recent logs, metrics and profiling are for operators and Prometheus: a public
  // service serves them on another port, which the Ingress does not route to.
  const ops = opsPort === null || !definition.public ? app : createApp(log, metrics);
  // An internal service with OPS_PORT serves them, and what creates money, customers or faults
  // (its administrative routes), on a second listener of its app, which its callers cannot reach.
  const opsServer = opsPort !== null && ops === app ? operationsListener(app) : ops.server;
  let relay: OutboxRelay | undefined;
  const startedWorkers: Worker[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info('stopping: no new requests or messages; finishing work in flight');
      // the operations listener takes no new connection; what it still serves once the app has
      // closed (a long profile, say) is cut
      const opsClosed =
        opsServer === app.server
          ? undefined
          : new Promise<void>((resolve) => opsServer.close(() => resolve()));
      await app.close();
      if (ops !== app) await ops.close();
      opsServer.closeAllConnections();
      await opsClosed;
      gate?.stop(); // messages held through an outage go back to their queues
      await svc.broker?.stopConsuming();
      for (const worker of startedWorkers.toReversed()) await worker.stop();
      await relay?.flush();
      await relay?.stop();
      await svc.broker?.close();
      await pool?.end();
      await statsd.close();
      log.info('stopped');
    })();
    return stopping;
  };

  try {
    const checks = {
      hard: definition.readiness?.(svc, shared) ?? {},
      soft: definition.degradedWithout?.(svc, shared) ?? {},
    };
    // the book's `health` timer (table 11.1)
    ops.addHook('onResponse', async (request, reply) => {
      if (request.routeOptions.url === '/health') statsd.timing('health', reply.elapsedTime);
    });
    // the public never reaches a separate operations listener
    const routes = { name, version: definition.version, public: ops === app && (definition.public ?? false) };
    registerChassisRoutes(ops, routes, svc, recent, checks, env, () => gate?.open ?? true);
    if (definition.adminFaults !== false && !definition.public) registerFaultRoutes(app, faults);
    await definition.routes?.(app, svc, shared);
    await app.ready();
    if (ops !== app) await ops.ready();

    if (pool && svc.broker) {
      dispatcher = new OutboxDispatcher(
        pool,
        svc.broker.publisher,
        svc.broker.livePublisher,
        name,
        log,
        metrics,
      );
      relay = new OutboxRelay(pool, dispatcher, log, metrics);
      relay.start();
    }
    const lane = () =>
      new BatchRunner(
        svc.pool,
        handlerSlots,
        dispatcher,
        outbox,
        metrics,
        config.HANDLER_BATCH_SIZE,
        Math.min(config.HANDLER_BATCHES, handlerSlots.size),
      );
    // RPC requests have a caller waiting: they do not queue behind a batch of events
    const batches = lane();
    const rpcBatches = lane();
    if (pool) {
      const retention = new InboxRetention(pool, config.INBOX_RETENTION_HOURS, log);
      retention.start();
      startedWorkers.push(retention);
    }
    for (const { queue, event, handler } of handlerQueues) {
      const spec = handlers[handler] as (typeof handlers)[string];
      const handle = (envelope: Envelope) =>
        handleInBatch(svc, batches, queue, spec, envelope, faults, handlerSlots);
      svc.broker.consume({ queue, event }, consuming, (envelope) =>
        gate ? gate.run(() => handle(envelope)) : handle(envelope),
      );
    }
    for (const { queue, event, handler } of liveQueues) {
      const spec = listeners[handler] as EventListener;
      svc.broker.listen({ queue, event }, (envelope) =>
        spec.handle(envelope.payload, { log: svc.log, envelope }),
      );
    }
    if (Object.keys(rpcMethods).length > 0) serveRpc(svc, rpcMethods, consuming, rpcBatches, handlerSlots);

    for (const worker of definition.workers?.(svc, shared) ?? []) {
      await worker.start();
      startedWorkers.push(worker);
    }
    if (options.listen !== false) {
      await app.listen({ host: config.HOST, port });
      if (ops !== app) await ops.listen({ host: config.HOST, port: opsPort ?? 0 });
      else if (opsServer !== app.server)
        await new Promise<void>((resolve, reject) => {
          opsServer.once('error', reject);
          opsServer.listen(opsPort ?? 0, config.HOST, () => {
            opsServer.off('error', reject);
            resolve();
          });
        });
    }
  } catch (error) {
    // Leave nothing open behind a failed start.
    await stop().catch(() => undefined);
    throw error;
  }
  const listening = (server: Server) => (options.listen === false ? null : portOf(server));
  log.info(
    { port: listening(app.server), ops_port: listening(opsServer), handlers: handlerQueues.length, topology },
    `${name} started`,
  );
  return { app, ops, opsServer, context: svc as ServiceContext<unknown>, faults, stop };
}

/** How far above its port a public service serves its operations routes, unless OPS_PORT says. */
export const OPS_PORT_OFFSET = 1000;

/**
 * The port of the service's operations listener, or null when its operations routes share the
 * service's own listener (an internal service, unless OPS_PORT names another port). A public
 * service always has one of its own: OPS_PORT, else its port + 1000 (an ephemeral one for port 0).
 */
export function operationsPort(port: number, opsPort: number | undefined, isPublic: boolean): number | null {
  if (opsPort === undefined) return isPublic ? (port === 0 ? 0 : port + OPS_PORT_OFFSET) : null;
  if (opsPort === port && port !== 0) {
    if (isPublic)
      throw new ConfigError(
        `OPS_PORT ${opsPort} is PORT: a public service serves its operations routes on a port of their own`,
      );
    return null;
  }
  return opsPort;
}

const portOf = (server: Server): number | null => {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : null;
};

/** Serves the service's RPC methods on `rpc-<service>`, each call in one transaction with its outbox rows. */
function serveRpc<C>(
  svc: ServiceContext<C>,
  rpcMethods: Record<string, RpcMethod>,
  consuming: { prefetch: number; concurrency: number },
  batches: BatchRunner,
  slots: Slots,
) {
  const validators = Object.fromEntries(
    Object.entries(rpcMethods).map(([m, spec]) => [m, Compile(spec.params)]),
  );
  svc.broker.serveRpc(consuming, async (method, params, message, deadline) => {
    const spec = rpcMethods[method];
    const validator = validators[method];
    if (!spec || !validator) throw new RpcError('unknown_method', `${svc.name} has no method ${method}`);
    if (!validator.Check(params)) {
      const first = [...validator.Errors(params)][0];
      throw new RpcError(
        'validation_failed',
        `${first?.instancePath || 'params'} ${first?.message ?? 'invalid'}`,
      );
    }
    const header = message.headers?.['x-correlation-id'];
    const correlationId = typeof header === 'string' ? header : (message.messageId ?? randomUUID());
    const cause = { correlationId, causationId: message.messageId ?? null };
    const log = svc.log;
    const alone = () =>
      slots.run(() =>
        svc.transaction(cause, async (tx, publish, afterCommit) => {
          const result = await spec.handle(params, { tx, publish, afterCommit, log, correlationId });
          // The caller has given up and told its customer so: commit nothing it does not know of.
          if (Date.now() > deadline)
            throw new RpcError('service_unavailable', 'the caller gave up before this committed');
          return result;
        }),
      );
    return batches
      .submit({
        cause,
        lockKey: lockKeyOf(params, correlationId),
        ...(Number.isFinite(deadline) ? { deadline } : {}),
        work: (ctx) => spec.handle(params, { ...ctx, log, correlationId }),
        alone,
      })
      .catch((error: unknown) => {
        if (error instanceof JobExpired) throw new RpcError('service_unavailable', error.message);
        throw error;
      });
  });
}

/**
 * The order in which a batch handles its jobs (batching.ts): by account, then by saga. Handlers
 * lock an order's rows and its account's balances, so concurrent batches that take them in this
 * one order cannot deadlock.
 */
function lockKeyOf(payload: unknown, correlationId: string): string {
  const accountId = (payload as { accountId?: unknown } | undefined)?.accountId;
  return `${typeof accountId === 'string' ? accountId : ''}\n${correlationId}`;
}

/** Handles one event in the service's next batch (batching.ts); alone if its batch fails. */
function handleInBatch<C>(
  svc: ServiceContext<C>,
  batches: BatchRunner,
  queue: string,
  spec: EventHandler,
  envelope: Envelope,
  faults: FaultSwitch,
  slots: Slots,
): Promise<'handled' | 'duplicate'> {
  const cause = { correlationId: envelope.correlationId, causationId: envelope.id };
  const log = () => {
    const orderId = (envelope.payload as { orderId?: string }).orderId;
    return svc.log.child({ order_id: orderId, event: envelope.type, message_id: envelope.id });
  };
  // the fault switch acts before the batch, so a slowed handler holds no transaction
  return faults.beforeHandler().then(() =>
    batches.submit({
      cause,
      lockKey: lockKeyOf(envelope.payload, envelope.correlationId),
      inbox: { handler: queue, messageId: envelope.id },
      work: async (ctx) => {
        await spec.handle(envelope.payload, { ...ctx, log: log(), envelope });
        return 'handled' as const;
      },
      alone: () => handleOnce(svc, queue, spec, envelope, slots),
    }),
  );
}

/** Runs one event handler at most once per message: inbox row, effect and outbox rows commit together. */
async function handleOnce<C>(
  svc: ServiceContext<C>,
  queue: string,
  spec: EventHandler,
  envelope: Envelope,
  slots: Slots,
) {
  const cause = { correlationId: envelope.correlationId, causationId: envelope.id };
  return slots.run(() =>
    svc.transaction(cause, async (tx, publish, afterCommit) => {
      const inserted = await tx.query(
        'INSERT INTO inbox (handler, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [queue, envelope.id],
      );
      if (inserted.rowCount === 0) return 'duplicate' as const;
      const orderId = (envelope.payload as { orderId?: string }).orderId;
      const log = svc.log.child({ order_id: orderId, event: envelope.type, message_id: envelope.id });
      await spec.handle(envelope.payload, { tx, publish, afterCommit, log, envelope });
      return 'handled' as const;
    }),
  );
}

/** Starts a service as its own process: signals, graceful stop, one clear line when it cannot start. */
export async function runService<P extends TProperties, S>(
  definition: ServiceDefinition<P, S>,
): Promise<RunningService> {
  // `--version`, `--help`, `init` (cli.ts): answered before anything connects
  const cli = serviceCli(definition as unknown as Parameters<typeof serviceCli>[0], process.argv.slice(2), {
    env: process.env,
    execPath: process.execPath,
    entry: process.argv[1] ?? 'dist/server.js',
  });
  if (cli.action === 'exit') {
    process.stdout.write(cli.stdout);
    process.stderr.write(cli.stderr);
    process.exit(cli.code);
  }
  let running: RunningService;
  try {
    running = await startService(definition);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof InfrastructureError) {
      process.stderr.write(`${definition.name}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const shutdown = (signal: string) => {
    running.context.log.info({ signal }, 'shutdown requested');
    const timeout = running.context.config.SHUTDOWN_TIMEOUT_MS;
    setTimeout(() => {
      running.context.log.error({ timeout_ms: timeout }, 'shutdown took too long; exiting');
      process.exit(1);
    }, timeout).unref();
    running.stop().then(
      () => flushTelemetry().then(() => process.exit(0)),
      (error) => {
        running.context.log.error({ error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  return running;
}

export { HttpError };

/**
 * What the service publishes or consumes that the event contracts (libs/contracts `subscriptions`
 * and each event's `source`, from which docs/asyncapi.json is made) do not describe.
 */
export function undescribedTopology(
  service: string,
  publishes: readonly EventDefinition[],
  consumes: readonly { event: EventDefinition; handler: string }[],
): string[] {
  return [
    ...publishes
      .filter((event) => event.source !== service)
      .map((event) => `publishes ${event.name}, whose producer is ${event.source}`),
    ...consumes
      .filter(
        ({ event, handler }) =>
          !subscriptions.some((s) => s.service === service && s.handler === handler && s.event === event),
      )
      .map(
        ({ event, handler }) => `consumes ${event.name} in ${handler}, not a subscription of the contracts`,
      ),
  ];
}
