import { type Context, context, trace } from '@opentelemetry/api';
import type { Worker } from './definition.ts';
import type { Logger } from './logger.ts';

/**
 * Runs `pass` every `intervalMs` and whenever woken, one pass at a time; a pass that returns true
 * found more work than it took and runs again at once. A failing pass is logged (at most every
 * 10 s, since an exchange that is down fails every pass) and retried on the next tick.
 */
export class Poller implements Worker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** The trace of the last wake that came while a pass ran: the pass it asked for joins it. */
  private againContext: Context | undefined;
  private stopped = false;
  private lastFailureLogged = 0;

  constructor(
    private readonly what: string,
    private readonly intervalMs: number,
    private readonly pass: () => Promise<boolean>,
    private readonly log: Logger,
  ) {}

  /** Runs `tick` every `intervalMs` (and when woken): periodic work with nothing left over after a tick. */
  static every(what: string, intervalMs: number, log: Logger, tick: () => unknown): Poller {
    return new Poller(
      what,
      intervalMs,
      async () => {
        await tick();
        return false;
      },
      log,
    );
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), this.intervalMs);
    this.timer.unref();
    this.wake();
  }

  /** Runs passes until one finds nothing more to do (or fails); resolves when it is idle. */
  async runUntilIdle(): Promise<void> {
    this.wake();
    while (this.running) await this.running;
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      // A pass woken from a handler (e.g. after its commit) runs in that handler's trace; a
      // pass started now runs in the caller's context anyway, a later one needs to be told.
      if (trace.getSpan(context.active())) this.againContext = context.active();
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    let woken: Context | undefined;
    do {
      this.again = false;
      const pass = woken ? () => context.with(woken as Context, this.pass) : this.pass;
      try {
        while ((await pass()) && !this.stopped) {}
      } catch (error) {
        const now = Date.now();
        if (now - this.lastFailureLogged > 10_000) {
          this.lastFailureLogged = now;
          this.log.warn({ error }, `${this.what} failed; will retry`);
        }
        return;
      }
      woken = this.againContext;
      this.againContext = undefined;
    } while (this.again && !this.stopped);
  }
}
