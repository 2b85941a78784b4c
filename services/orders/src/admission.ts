import type { Logger, Pool, Worker } from '@simplebank/chassis';

/**
 * Admission control on orders in flight (issue 12, "overload is refused, not queued"): while
 * `max` orders are created or placed and not yet ended, a new order is refused at once (the
 * gateway answers 503 with Retry-After) instead of joining a queue whose wait would grow without
 * bound. The count is read from the database every `refreshMs` (one query over the partial index
 * orders_in_flight, shared by every instance), plus what this instance admitted since.
 */
export class OrderAdmission implements Worker {
  private inFlight = 0;
  private admittedSinceRead = 0;
  private timer: NodeJS.Timeout | undefined;
  private reading = false;

  constructor(
    private readonly pool: () => Pool,
    private readonly max: number,
    private readonly refreshMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.read(), this.refreshMs);
    this.timer.unref();
    this.read();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Whether a new order may enter the saga now; counts it if so. */
  admit(): boolean {
    if (this.inFlight + this.admittedSinceRead >= this.max) return false;
    this.admittedSinceRead++;
    return true;
  }

  private read(): void {
    if (this.reading) return;
    this.reading = true;
    this.pool()
      .query<{ count: number }>(
        `SELECT count(*)::int AS count FROM orders WHERE status IN ('created', 'placed')`,
      )
      .then(({ rows }) => {
        this.inFlight = rows[0]?.count ?? 0;
        this.admittedSinceRead = 0;
      })
      // database away: T1 cannot commit either; keep the last count
      .catch((error: unknown) => this.log.debug({ error }, 'orders in flight not read'))
      .finally(() => {
        this.reading = false;
      });
  }
}
