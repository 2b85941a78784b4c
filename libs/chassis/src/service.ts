import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Envelope, EventDefinition } from '@simplebank/contracts';
import type { Static, TObject, TProperties } from 'typebox';
import { createApps, listenOn, operationsPort, portOf } from './apps.ts';
import { BatchRunner } from './batching.ts';
import { Broker } from './broker.ts';
import { type BaseConfig, ConfigError, loadConfig } from './config.ts';
import { createPool, ensureDatabase, migrate, type Pool, transaction } from './database.ts';
import { DatabaseGate } from './database-gate.ts';
import type {
  Context,
  EventHandler,
  EventListener,
  RunningService,
  ServiceContext,
  ServiceDefinition,
  Worker,
} from './definition.ts';
import { FaultSwitch, registerFaultRoutes } from './faults.ts';
import { handleInBatch, serveRpcMethods } from './handlers.ts';
import { type Check, registerChassisRoutes } from './health.ts';
import { infrastructureError, isConnectionError } from './infrastructure.ts';
import { createLogger, type Logger, RecentEntries } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { OutboxBuffer } from './outbox.ts';
import { OutboxDispatcher, OutboxRelay } from './outbox-relay.ts';
import { InboxRetention } from './retention.ts';
import { Slots } from './slots.ts';
import { createStatsd } from './statsd.ts';
import { handlerQueue, liveQueue, undescribedTopology } from './topology.ts';

const chassisMigrations = fileURLToPath(new URL('../migrations/', import.meta.url));

/**
 * Starts a service from its definition, step by step: configuration, database, broker, `setup`,
 * topology, apps and routes, outbox relay, consumers, workers, listeners. A failed step leaves
 * nothing open. `listen: false` serves through `app.inject` only (tests).
 */
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

  const pool = definition.migrations ? await openDatabase(definition, config, log, metrics) : undefined;
  const publishes = definition.publishes ?? [];
  // The broker exists, not yet declared, when setup runs: what setup builds may hold it
  const broker =
    definition.broker === false
      ? undefined
      : new Broker(config.AMQP_URL, name, log, metrics, {
          publishes,
          retry: {
            attempts: config.HANDLER_ATTEMPTS,
            delaysMs: config.RETRY_DELAYS_MS.split(',').map(Number),
          },
          heartbeatSeconds: config.AMQP_HEARTBEAT_SECONDS,
          publisherUsers: config.AMQP_PUBLISHER_USERS,
        });
  const closeConnections = async () => {
    await broker?.connection.close().catch(() => undefined);
    await pool?.end();
  };
  // sends what each transaction published once it has committed (outbox-relay.ts); made with the relay
  const outbound: { dispatcher?: OutboxDispatcher } = {};
  const outbox = () => new OutboxBuffer(name, publishes);
  const svc: Context<P> = {
    name,
    config,
    log,
    metrics,
    statsd,
    get pool() {
      if (!pool) throw new Error(`${name} has no database: its definition declares no migrations`);
      return pool;
    },
    get broker() {
      if (!broker) throw new Error(`${name} has no broker: its definition says broker: false`);
      return broker;
    },
    async transaction(cause, work) {
      const committed: (() => void)[] = [];
      const buffer = outbox();
      const result = await transaction(svc.pool, async (tx) => {
        const result = await work(tx, buffer.publisher(cause), (callback) => committed.push(callback));
        await buffer.write(tx);
        return result;
      });
      outbound.dispatcher?.dispatch(buffer);
      for (const callback of committed) callback();
      return result;
    },
  };

  let shared: S;
  try {
    shared = definition.setup?.(svc) as S;
  } catch (error) {
    await closeConnections();
    throw error;
  }
  const handlers = definition.handlers?.(svc, shared) ?? {};
  const listeners = definition.listeners?.(svc, shared) ?? {};
  const rpcMethods = definition.rpc?.(svc, shared) ?? {};
  const { handlerQueues, liveQueues } = queuesOf(name, publishes, handlers, listeners, log);
  if (broker) {
    try {
      await broker.declareTopology(config.AMQP_STARTUP_TIMEOUT_MS, handlerQueues);
    } catch (error) {
      await closeConnections();
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
  const { app, ops, opsServer } = createApps(definition, config, log, metrics, opsPort);
  // while the database is unreachable, event handlers hold their messages (database-gate.ts)
  const gate = pool ? new DatabaseGate(() => pool.query('SELECT 1'), log, metrics) : undefined;
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
      await broker?.stopConsuming();
      for (const worker of startedWorkers.toReversed()) await worker.stop();
      await relay?.flush();
      await relay?.stop();
      await broker?.close();
      await pool?.end();
      await statsd.close();
      log.info('stopped');
    })();
    return stopping;
  };

  try {
    // routes
    const hard: Record<string, Check> = { ...definition.readiness?.(svc, shared) };
    const soft: Record<string, Check> = { ...definition.degradedWithout?.(svc, shared) };
    if (pool) {
      // down, too, while the handlers are paused for a database outage (database-gate.ts)
      hard.database = async () => (gate?.open ?? true) && (await pool.query('SELECT 1').then(() => true));
    }
    if (broker) soft.broker = async () => broker.ready;
    // the book's `health` timer (table 11.1)
    ops.addHook('onResponse', async (request, reply) => {
      if (request.routeOptions.url === '/health') statsd.timing('health', reply.elapsedTime);
    });
    // the public never reaches a separate operations listener
    const routes = { name, version: definition.version, public: ops === app && (definition.public ?? false) };
    registerChassisRoutes(ops, routes, svc, recent, { hard, soft }, env);
    if (definition.adminFaults !== false && !definition.public) registerFaultRoutes(app, faults);
    await definition.routes?.(app, svc, shared);
    await app.ready();
    if (ops !== app) await ops.ready();

    // the outbox relay, and the inbox's retention
    if (pool && broker) {
      outbound.dispatcher = new OutboxDispatcher(
        pool,
        broker.publisher,
        broker.livePublisher,
        name,
        log,
        metrics,
      );
      relay = new OutboxRelay(pool, outbound.dispatcher, log, metrics);
      relay.start();
    }
    if (pool) {
      const retention = new InboxRetention(pool, config.INBOX_RETENTION_HOURS, log);
      retention.start();
      startedWorkers.push(retention);
    }

    for (const { queue, event, handler } of liveQueues) {
      const spec = listeners[handler] as EventListener;
      svc.broker.listen({ queue, event }, (envelope) => spec.handle(envelope.payload, { log, envelope }));
    }
    if (handlerQueues.length > 0 || Object.keys(rpcMethods).length > 0) {
      if (!pool) {
        throw new ConfigError(
          `${name} declares event handlers or RPC methods but no migrations: they run in transactions of its own database`,
        );
      }
      // Every handler and RPC method runs in a transaction: together they take at most the pool less
      // one connection, which stays for the outbox relay (the events they commit keep going out),
      // the readiness check and the routes. PREFETCH only says how many messages wait in memory.
      const slots = new Slots(Math.max(1, config.DATABASE_POOL_SIZE - 1));
      const lane = () =>
        new BatchRunner(
          pool,
          slots,
          outbound.dispatcher,
          outbox,
          metrics,
          config.HANDLER_BATCH_SIZE,
          Math.min(config.HANDLER_BATCHES, slots.size),
        );
      // Messages wait for their batch in memory, not for a connection: every prefetched one is taken.
      const consuming = { prefetch: config.PREFETCH, concurrency: config.PREFETCH };
      const batches = lane();
      for (const { queue, event, handler } of handlerQueues) {
        const spec = handlers[handler] as EventHandler;
        const handle = (envelope: Envelope) =>
          handleInBatch(svc, batches, queue, spec, envelope, faults, slots);
        svc.broker.consume({ queue, event }, consuming, (envelope) =>
          gate ? gate.run(() => handle(envelope)) : handle(envelope),
        );
      }
      // RPC requests have a caller waiting: they do not queue behind a batch of events
      if (Object.keys(rpcMethods).length > 0) serveRpcMethods(svc, rpcMethods, consuming, lane(), slots);
    }

    for (const worker of definition.workers?.(svc, shared) ?? []) {
      await worker.start();
      startedWorkers.push(worker);
    }
    if (options.listen !== false) await listenOn(app, ops, opsServer, config.HOST, port, opsPort);
  } catch (error) {
    // Leave nothing open behind a failed start.
    await stop().catch(() => undefined);
    throw error;
  }
  const listening = (server: Server) => (options.listen === false ? null : portOf(server));
  const topology = {
    publishes: publishes.map((e) => e.name),
    consumes: [...handlerQueues, ...liveQueues].map(({ event, handler }) => ({ event: event.name, handler })),
  };
  log.info(
    { port: listening(app.server), ops_port: listening(opsServer), handlers: handlerQueues.length, topology },
    `${name} started`,
  );
  return { app, ops, opsServer, context: svc as ServiceContext<unknown>, faults, stop };
}

/** Creates (if the chassis may) and migrates the service's database; runs `prepare`. */
async function openDatabase<P extends TProperties, S>(
  definition: ServiceDefinition<P, S>,
  config: BaseConfig & Static<TObject<P>>,
  log: Logger,
  metrics: Metrics,
): Promise<Pool> {
  const database = `${config.DATABASE_PREFIX}${definition.name.replaceAll('-', '_')}`;
  const databaseUrl = config.DATABASE_URL ?? `${config.PGHOST_URL}/${database}`;
  let pool: Pool | undefined;
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
    const migrations = definition.migrations as URL;
    const ran = await migrate(pool, [chassisMigrations, fileURLToPath(migrations)]);
    if (ran.length > 0) log.info({ migrations: ran }, 'migrations applied');
    await definition.prepare?.({ config, pool, log });
    return pool;
  } catch (error) {
    await pool?.end().catch(() => undefined);
    throw isConnectionError(error) ? infrastructureError('PostgreSQL', databaseUrl, error) : error;
  }
}

/**
 * The queues of the service's handlers (durable, shared by its instances) and listeners (one per
 * instance). Logs what the event contracts (docs/asyncapi.json) do not describe.
 */
function queuesOf(
  name: string,
  publishes: EventDefinition[],
  handlers: Record<string, EventHandler>,
  listeners: Record<string, EventListener>,
  log: Logger,
) {
  const handlerQueues = Object.entries(handlers).map(([handler, { event }]) => ({
    queue: handlerQueue(event, name, handler),
    event,
    handler,
  }));
  const instance = randomUUID().slice(0, 8);
  const liveQueues = Object.entries(listeners).map(([handler, { event }]) => ({
    queue: liveQueue(event, name, handler, instance),
    event,
    handler,
  }));
  const undescribed = undescribedTopology(name, publishes, [...handlerQueues, ...liveQueues]);
  if (undescribed.length > 0) {
    log.error(
      { undescribed },
      'the event contracts (docs/asyncapi.json) do not describe all this service does',
    );
  }
  return { handlerQueues, liveQueues };
}
