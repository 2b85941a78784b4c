import type { Logger, Worker } from '@simplebank/chassis';

/**
 * Runs `pass` every `intervalMs` and whenever woken, one pass at a time; a pass that returns true
 * found more work than it took and runs again at once. A failing pass is logged (at most every
 * 10 s, since an exchange that is down fails every pass) and retried on the next tick.
 */
export class Poller implements Worker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private lastFailureLogged = 0;

  constructor(
    private readonly what: string,
    private readonly intervalMs: number,
    private readonly pass: () => Promise<boolean>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.intervalMs);
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
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
    do {
      this.again = false;
      try {
        while ((await this.pass()) && !this.stopped) {}
      } catch (error) {
        const now = Date.now();
        if (now - this.lastFailureLogged > 10_000) {
          this.lastFailureLogged = now;
          this.log.warn({ error }, `${this.what} failed; will retry`);
        }
        return;
      }
    } while (this.again && !this.stopped);
  }
}
