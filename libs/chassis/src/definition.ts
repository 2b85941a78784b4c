import type { Server } from 'node:http';
import type { Envelope, EventDefinition, PayloadOf } from '@simplebank/contracts';
import type { Static, TObject, TProperties, TSchema } from 'typebox';
import type { Broker } from './broker.ts';
import type { BaseConfig } from './config.ts';
import type { Pool, Tx } from './database.ts';
import type { FaultSwitch } from './faults.ts';
import type { App } from './http.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { Cause, Publish } from './outbox.ts';
import type { Timers } from './statsd.ts';

// What a service declares (`defineService`, `on`, `listen`, `command`) and what the chassis gives
// its code; service.ts starts it.

/** What a handler, RPC method or route of a service gets from the chassis. */
export interface ServiceContext<C> {
  name: string;
  config: BaseConfig & C;
  log: Logger;
  metrics: Metrics;
  /** The book's StatsD timers: `svc.statsd.timed('charge_fee', () => …)` (statsd.ts). */
  statsd: Timers;
  /** The service's own database. A service without migrations has none: reading this throws. */
  pool: Pool;
  /** Its RabbitMQ connection. A service declared with `broker: false` has none: reading this throws. */
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

export type Context<P extends TProperties> = ServiceContext<Static<TObject<P>>>;

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
