import { infrastructureError, type Worker } from '@simplebank/chassis';
import { Redis } from 'ioredis';
import type { GatewayContext } from './config.ts';

const CONNECT_TIMEOUT_MS = 5000;

/**
 * The gateway's Redis client. It connects only when `redisLifecycle` starts: setup runs before
 * the broker connects, and a start that fails before the workers would leave it reconnecting.
 */
export function createRedis(svc: GatewayContext): Redis {
  const redis = new Redis(svc.config.REDIS_URL, {
    keyPrefix: svc.config.REDIS_PREFIX,
    lazyConnect: true,
    // Redis only speeds the gateway up: a command fails fast instead of queueing while it is away.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: 500,
    connectionName: svc.name,
  });
  const log = svc.log;
  redis.on('error', (error) => log.warn({ error }, 'Redis connection error'));
  return redis;
}

/** Waits for Redis at start (a clear error when it is not there) and closes the client on stop. */
export function redisLifecycle(svc: GatewayContext, redis: Redis): Worker {
  return {
    async start() {
      if (redis.status === 'ready') return;
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`)),
            CONNECT_TIMEOUT_MS,
          );
          redis.once('ready', () => {
            clearTimeout(timer);
            resolve();
          });
          // a failed first attempt is retried until the timeout; the 'error' listener logs it
          if (redis.status === 'wait') redis.connect().catch(() => undefined);
        });
      } catch (error) {
        redis.disconnect();
        throw infrastructureError('Redis', svc.config.REDIS_URL, error);
      }
    },
    async stop() {
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}

/** Readiness: Redis answers a PING. */
export const redisAnswers = (redis: Redis) => async (): Promise<boolean> => (await redis.ping()) === 'PONG';
