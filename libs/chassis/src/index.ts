export { OPS_PORT_OFFSET, operationsPort } from './apps.ts';
export { retryDelay } from './backoff.ts';
export { Broker } from './broker.ts';
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
export { BUDGET_HEADER, deadlineFromBudget, requestDeadline } from './deadline.ts';
export {
  type AfterCommit,
  command,
  defineService,
  type EventHandler,
  type EventListener,
  type HandlerContext,
  listen,
  on,
  type RpcContext,
  type RpcMethod,
  type RunningService,
  type ServiceContext,
  type ServiceDefinition,
  type Worker,
} from './definition.ts';
export { PoisonMessageError } from './event-consumer.ts';
export { FaultSwitch, Faults, InjectedFault } from './faults.ts';
export {
  ADMIN,
  type App,
  createApp,
  errorBody,
  HttpError,
  isAdmin,
  isStale,
  markStale,
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
export { InfrastructureError, infrastructureError } from './infrastructure.ts';
export { createLogger, type Logger } from './logger.ts';
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
export { ConfirmedPublisher, LivePublisher } from './publishers.ts';
export { RpcError } from './rpc-client.ts';
export { runService } from './run.ts';
export { brokerUserOf, PUBLISHER_HEADER, publisherUser } from './senders.ts';
export { startService } from './service.ts';
export { Slots, SlotsFull } from './slots.ts';
export { createStatsd, type StatsdOptions, type Timers } from './statsd.ts';
export {
  deadLetterExchange,
  deadLetterQueue,
  handlerQueue,
  liveQueue,
  rpcQueue,
  undescribedTopology,
} from './topology.ts';
export { activeTraceId, flushTelemetry } from './tracing.ts';
