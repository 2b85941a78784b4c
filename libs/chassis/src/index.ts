export { BaseConfig, ConfigError, loadConfig } from './config.ts';
export { createPool, ensureDatabase, migrate, type Pool, type Tx, transaction } from './database.ts';
export { type App, createApp, errorBody, HttpError } from './http.ts';
export { createLogger, type Logger } from './logger.ts';
export { Broker, PoisonMessageError, RpcError } from './messaging.ts';
export { createMetrics, type Metrics } from './metrics.ts';
export type { Cause, Publish } from './outbox.ts';
export { Poller } from './poller.ts';
export {
  type AfterCommit,
  command,
  defineService,
  type EventHandler,
  type HandlerContext,
  InfrastructureError,
  infrastructureError,
  on,
  type RpcContext,
  type RunningService,
  runService,
  type ServiceContext,
  type ServiceDefinition,
  startService,
  type Worker,
} from './service.ts';
export { deadLetterExchange, deadLetterQueue, handlerQueue, rpcQueue } from './topology.ts';
