export { retryDelay } from './backoff.ts';
export { brokerUser, provisionBrokerUsers, rabbitmqctl } from './broker-admin.ts';
export {
  type CliContext,
  type CliResult,
  environmentVariables,
  serviceCli,
  systemdUnit,
} from './cli.ts';
export { BaseConfig, ConfigError, isProduction, isSecret, loadConfig } from './config.ts';
export {
  createPool,
  ensureDatabase,
  lockUntilCommit,
  migrate,
  type Pool,
  type Tx,
  transaction,
} from './database.ts';
export { FaultSwitch, Faults, InjectedFault } from './faults.ts';
export {
  ADMIN,
  type App,
  BUDGET_HEADER,
  createApp,
  deadlineFromBudget,
  errorBody,
  HttpError,
  isAdmin,
  isStale,
  markStale,
  requestDeadline,
  TRACE_ID_HEADER,
  trustedProxies,
} from './http.ts';
export {
  type BreakerOptions,
  type BreakerState,
  type CallOptions,
  HttpClient,
  type HttpClientOptions,
  type HttpResponse,
  type UnavailableReason,
  UpstreamUnavailable,
} from './http-client.ts';
export { createLogger, type Logger } from './logger.ts';
export {
  Broker,
  brokerUserOf,
  ConfirmedPublisher,
  LivePublisher,
  PoisonMessageError,
  PUBLISHER_HEADER,
  publisherUser,
  RpcError,
} from './messaging.ts';
export { compensationsCounter, createMetrics, type Metrics, prometheus } from './metrics.ts';
export type { Cause, Publish } from './outbox.ts';
export {
  handlerQueueOf,
  listQueueNames,
  type ParkedMessage,
  type ParkedQueue,
  ParkingLot,
  selectHandlerQueues,
  vhostOf,
} from './parking.ts';
export { Poller } from './poller.ts';
export {
  type AfterCommit,
  command,
  defineService,
  type EventHandler,
  type EventListener,
  type HandlerContext,
  InfrastructureError,
  infrastructureError,
  listen,
  OPS_PORT_OFFSET,
  on,
  operationsPort,
  type RpcContext,
  type RpcMethod,
  type RunningService,
  runService,
  type ServiceContext,
  type ServiceDefinition,
  startService,
  undescribedTopology,
  type Worker,
} from './service.ts';
export { Slots, SlotsFull } from './slots.ts';
export { createStatsd, type StatsdOptions, type Timers } from './statsd.ts';
export { deadLetterExchange, deadLetterQueue, handlerQueue, liveQueue, rpcQueue } from './topology.ts';
export { activeTraceId, flushTelemetry } from './tracing.ts';
