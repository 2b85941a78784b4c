import type { Logger, Worker } from '@simplebank/chassis';

/** A value as last fetched, and how long ago. */
export interface Held<T> {
  value: T;
  ageMs: number;
}

/**
 * Something an upstream owns that the gateway keeps in memory (the quote board, the fee schedule),
 * fetched again in the background every `intervalMs`, so that a request reads it with no round
 * trip. One fetch at a time: a request that finds nothing yet (a miss) waits for the fetch under
 * way, or starts one, and fails with it. A fetch that fails keeps what was held; whether that is
 * still good enough is the reader's to say, from its age. A failure is logged when it starts and
 * when it ends, not on every attempt in between.
 */
export class Refreshed<T> implements Worker {
  private held: { value: T; at: number } | undefined;
  private fetching: Promise<{ value: T; at: number }> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(
    /** What is held, for the log: `quote board`. */
    private readonly what: string,
    private readonly intervalMs: number,
    private readonly fetch: () => Promise<T>,
    private readonly log: Logger,
    /** A monotonic clock: ages never go negative when the wall clock is set back. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** What is held and its age; a miss fetches first (and throws what the fetch threw). */
  async get(): Promise<Held<T>> {
    const { value, at } = this.held ?? (await this.refresh());
    return { value, ageMs: this.now() - at };
  }

  /** Fetches now, or joins the fetch under way. */
  refresh(): Promise<{ value: T; at: number }> {
    this.fetching ??= this.fetchOnce().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  /** Fetches at once (requests that come before it join it), then every interval. */
  start(): void {
    const background = () => void this.refresh().catch(() => undefined); // logged in fetchOnce
    this.timer = setInterval(background, this.intervalMs);
    this.timer.unref();
    background();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.fetching?.catch(() => undefined);
  }

  private async fetchOnce(): Promise<{ value: T; at: number }> {
    try {
      this.held = { value: await this.fetch(), at: this.now() };
    } catch (error) {
      if (!this.failing) {
        this.failing = true;
        const keeping = this.held ? 'keeping the last one' : 'none held yet';
        this.log.warn({ error }, `could not fetch the ${this.what}; ${keeping}`);
      }
      throw error;
    }
    if (this.failing) {
      this.failing = false;
      this.log.info(`fetched the ${this.what} again`);
    }
    return this.held;
  }
}
