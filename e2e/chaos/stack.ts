import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TcpProxy } from '@simplebank/chassis/testing';
import { type ServiceName, Stack } from '@simplebank/stack';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VHOST = 'simplebank_chaos';
export const DATABASE_PREFIX = 'simplebank_chaos_';
/** Two of every service (one exchange): competing consumers, pollers, relays, the execution feed. */
export const INSTANCES = 2;
/** How far the skewed instance's clock is ahead (libfaketime). */
export const CLOCK_SKEW = '+7s';

/** The partitions the suite can make: one instance's way to RabbitMQ, and another's to PostgreSQL. */
export interface Partitions {
  /** market#2 ↔ RabbitMQ */
  marketToRabbitMQ: TcpProxy;
  /** fees#2 ↔ PostgreSQL */
  feesToPostgreSQL: TcpProxy;
}

/**
 * The system the chaos suite breaks: its own ports (2xxxx), databases and virtual host, two
 * instances of each service, market and fees' second instances behind TCP proxies the test
 * controls, and orders' second instance on a clock CLOCK_SKEW ahead of the others.
 */
export function chaosStack(
  amqpUrl: string,
  onLine?: (service: string, line: string, instance: number) => void,
  partitions?: Partitions,
): Stack {
  const second = (name: ServiceName, instance: number, wanted: ServiceName) =>
    instance === 1 && name === wanted;
  return new Stack({
    root,
    portOffset: 20_000,
    instances: INSTANCES,
    // a restart under the run's load, on two cores shared by thirteen processes, takes a while
    readyTimeoutMs: 120_000,
    // Pools sized so that two of everything stay under PostgreSQL's default 100 connections
    // (2 × 12 + 2 × 3 × 6 + 6 = 66, with room for the test's own), as a deployment must size them.
    env: {
      DATABASE_PREFIX,
      AMQP_URL: amqpUrl,
      REDIS_PREFIX: 'chaos:',
      LOG_LEVEL: 'info',
      DATABASE_POOL_SIZE: '6',
    },
    // market otherwise at its defaults: the placement deadline (60 s) and the exchange timeout (2 s)
    serviceEnv: {
      'stock-exchange': { FILL_DELAY_MS: '100' },
      market: { DATABASE_POOL_SIZE: '12', PLACEMENT_BATCH: '10' },
    },
    instanceEnv: (name, instance) => {
      // libfaketime moves the wall clock only: timers and timeouts keep real time
      if (second(name, instance, 'orders')) return { FAKETIME_DONT_FAKE_MONOTONIC: '1' };
      if (!partitions) return undefined;
      if (second(name, instance, 'market')) return { AMQP_URL: partitions.marketToRabbitMQ.through(amqpUrl) };
      if (second(name, instance, 'fees'))
        return {
          PGHOST_URL: partitions.feesToPostgreSQL
            .through('postgres://postgres@127.0.0.1:5432')
            .replace(/\/$/, ''),
        };
      return undefined;
    },
    command: (name, instance) =>
      second(name, instance, 'orders') ? { prefix: ['faketime', '-f', CLOCK_SKEW] } : undefined,
    ...(onLine ? { onLine: (service, line, _stream, instance) => onLine(service, line, instance) } : {}),
  });
}
