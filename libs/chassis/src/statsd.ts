import { performance } from 'node:perf_hooks';
import { StatsD } from 'hot-shots';
import type { Logger } from './logger.ts';

/**
 * The book's StatsD timers (table 11.1), one UDP packet each, `<prefix>.<service>.<name>:<ms>|ms`
 * (e.g. `simplebank.market.place_order_stock_exchange:72.8|ms`), to the statsd_exporter that
 * statsd/mapping.yml configures. UDP: with no exporter listening a packet is simply lost; a send
 * error (an unresolvable STATSD_HOST) is logged once, never per packet.
 */
export interface Timers {
  /** Sends one timing of `name`, in milliseconds. */
  timing(name: string, milliseconds: number): void;
  /** Starts a timer; the returned function stops it, sends it and returns the milliseconds. */
  timer(name: string): () => number;
  /** Times `work`, whether it succeeds or throws (like the book's `@statsd.timer`). */
  timed<T>(name: string, work: () => T | Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface StatsdOptions {
  host: string;
  port: number;
  /** Before the service's name: `<prefix>.<service>.` (default `simplebank`). */
  prefix?: string;
}

export function createStatsd(service: string, options: StatsdOptions, log?: Logger): Timers {
  let warned = false;
  const client = new StatsD({
    host: options.host,
    port: options.port,
    protocol: 'udp',
    prefix: `${options.prefix ?? 'simplebank'}.${service}.`,
    cacheDns: true,
    errorHandler: (error) => {
      if (warned) return;
      warned = true;
      log?.warn(
        { error, statsd: `${options.host}:${options.port}` },
        'StatsD timers cannot be sent (logged once)',
      );
    },
  });
  const timing = (name: string, milliseconds: number) => {
    try {
      client.timing(name, Math.round(milliseconds * 1000) / 1000);
    } catch {
      // a closed client or a bad name: a timer never breaks the work it measures
    }
  };
  return {
    timing,
    timer(name) {
      const started = performance.now();
      return () => {
        const elapsed = performance.now() - started;
        timing(name, elapsed);
        return elapsed;
      };
    },
    async timed(name, work) {
      const started = performance.now();
      try {
        return await work();
      } finally {
        timing(name, performance.now() - started);
      }
    },
    close: () => new Promise<void>((resolve) => client.close(() => resolve())),
  };
}
