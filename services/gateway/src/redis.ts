import { infrastructureError, type Worker } from '@simplebank/chassis';
import { Redis } from 'ioredis';
import type { Gateway } from './config.ts';

const CONNECT_TIMEOUT_MS = 5000;
const clients = new WeakMap<Gateway, Redis>();

/**
 * The gateway's Redis client, one per running service. The chassis hands readiness, routes and
 * workers the same context but has no hook to create a resource for all three, so the client is
 * created on first use and kept against that context.
 */
export function redisOf(svc: Gateway): Redis {
  let redis = clients.get(svc);
  if (!redis) {
    redis = new Redis(svc.config.REDIS_URL, {
      keyPrefix: svc.config.REDIS_PREFIX,
      lazyConnect: false,
      // Redis only speeds the gateway up: a command fails fast instead of queueing while it is away.
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      commandTimeout: 500,
      connectionName: svc.name,
    });
    const log = svc.log;
    redis.on('error', (error) => log.warn({ error }, 'Redis connection error'));
    clients.set(svc, redis);
  }
  return redis;
}

/** Waits for Redis at start (a clear error when it is not there) and closes the client on stop. */
export function redisLifecycle(svc: Gateway): Worker {
  const redis = redisOf(svc);
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
export const redisAnswers = (svc: Gateway) => async (): Promise<boolean> =>
  (await redisOf(svc).ping()) === 'PONG';
