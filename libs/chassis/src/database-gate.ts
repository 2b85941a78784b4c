import { setTimeout as sleep } from 'node:timers/promises';
import { isDatabaseUnreachable } from './infrastructure.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/** The service is stopping: the message goes back to its queue unhandled, as it came. */
export class ServiceStopping extends Error {
  override name = 'ServiceStopping';
}

/**
 * Holds a service's handlers while its database is unreachable. A message whose handler cannot
 * reach the database has done nothing wrong: failing it would spend its attempts and park it
 * after an outage longer than the retry delays. Instead the first handler to find the database
 * gone closes the gate; every handler waits at it with its message unacked (the broker delivers
 * at most PREFETCH more per queue, which wait too); the gate probes the database with growing
 * pauses and opens once it answers, and the handlers run again. Readiness is down meanwhile.
 *
 * Messages held longer than the broker's `consumer_timeout` (30 min by default) go back to
 * the queue once, which counts one delivery against the queue's delivery limit.
 */
export class DatabaseGate {
  private outage: Promise<void> | undefined;
  private stopped = false;
  private readonly wakeStopped = new AbortController();

  constructor(
    private readonly probe: () => Promise<unknown>,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly pauses = { firstMs: 100, maxMs: 5000 },
  ) {}

  get open(): boolean {
    return this.outage === undefined;
  }

  /**
   * Runs `work`, after the database is back if it is away; runs it again, as many times as it
   * takes, while it fails because the database is unreachable. Its other failures are its own.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    for (;;) {
      if (this.outage) {
        await this.outage;
        if (this.stopped) throw new ServiceStopping('stopped while the database was unreachable');
      }
      try {
        return await work();
      } catch (error) {
        if (!isDatabaseUnreachable(error) || this.stopped) throw error;
        this.outage ??= this.probeUntilBack(error).finally(() => {
          this.outage = undefined;
        });
      }
    }
  }

  /** Lets the handlers waiting at the gate go, with `ServiceStopping`. */
  stop(): void {
    this.stopped = true;
    this.wakeStopped.abort();
  }

  private async probeUntilBack(error: unknown): Promise<void> {
    const since = Date.now();
    this.log.warn({ error }, 'database unreachable: handlers hold their messages until it answers');
    this.metrics.handlersPaused.set(1);
    try {
      for (let pause = this.pauses.firstMs; !this.stopped; pause = Math.min(this.pauses.maxMs, pause * 2)) {
        await sleep(pause, undefined, { signal: this.wakeStopped.signal }).catch(() => undefined);
        if (this.stopped) return;
        try {
          await this.probe();
          this.metrics.databaseProbes.inc({ outcome: 'up' });
          this.log.info({ down_ms: Date.now() - since }, 'database answers again: handlers resume');
          return;
        } catch {
          this.metrics.databaseProbes.inc({ outcome: 'down' });
        }
      }
    } finally {
      this.metrics.handlersPaused.set(0);
    }
  }
}
