import { type Logger, Poller, type Pool, type Worker } from '@simplebank/chassis';

/** How many orders may be in flight at once, and the wait that limit is kept to. */
export interface AdmissionPolicy {
  /** The limit never goes below this (the saga's batches need orders to batch)… */
  min: number;
  /** …nor above this. */
  max: number;
  /** The age of the median order in flight the limit aims at: half a typical saga's time. */
  targetMedianAgeMs: number;
}

/**
 * What the database says of the orders in flight now: created, not yet held by the exchange. A
 * placed order rests on the exchange's book until it fills or lapses, which is no work of ours.
 */
export interface InFlight {
  count: number;
  /** Age of the median order in flight (ms, the database's clock); 0 with none in flight. */
  medianAgeMs: number;
}

/**
 * The next limit on orders in flight, from the last one and what is in flight now. The
 * limit that keeps the wait bounded is the system's rate times the wait (Little's law), and the
 * rate is what this machine does today, so it is found rather than configured: while the median
 * order in flight is older than the target the limit shrinks by a tenth; while orders fill it and
 * are young, or are younger than half the target (the load has passed), it grows by a twentieth,
 * so that a burst after a quiet spell finds room again. Pure.
 */
export function nextLimit(limit: number, now: InFlight, policy: AdmissionPolicy): number {
  let next = limit;
  if (now.medianAgeMs > policy.targetMedianAgeMs) next = Math.floor(limit * 0.9);
  else if (now.count >= limit * 0.9 || now.medianAgeMs < policy.targetMedianAgeMs / 2)
    next = Math.ceil(limit * 1.05);
  return Math.min(policy.max, Math.max(policy.min, next));
}

/**
 * Orders created longer ago than this are left out of the count and the median: one stuck for
 * good (a prerequisite parked for a person) would otherwise hold the limit at its least forever.
 * The placement deadline (60 s) ends the others well before; OrderInFlightPastBound alerts on them.
 */
const HORIZON_SECONDS = 120;

/**
 * Admission control on orders in flight ("overload is refused, not queued"): past the limit a new
 * order is refused at once (the gateway answers 503 with Retry-After) instead of joining a queue
 * whose wait grows without bound. An exchange that is down or slow keeps orders created, so the
 * limit falls to its least then too. The orders in flight are read from the database every
 * `refreshMs` (over the partial index orders_in_flight, shared by every instance), and each read
 * moves the limit (`nextLimit`); between reads, what this instance admitted counts too.
 */
export class OrderAdmission implements Worker {
  private inFlight = 0;
  private admittedSinceRead = 0;
  private readonly poller: Poller;
  /** The limit now; it starts at the most and comes down as soon as orders wait. */
  limit: number;

  constructor(
    private readonly pool: () => Pool,
    private readonly policy: AdmissionPolicy,
    refreshMs: number,
    log: Logger,
  ) {
    this.limit = policy.max;
    // a read that fails (the database away: T1 cannot commit either) keeps the last count
    this.poller = new Poller('reading the orders in flight', refreshMs, () => this.read(), log);
  }

  start(): void {
    this.poller.start();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** Whether a new order may enter the saga now; counts it if so. */
  admit(): boolean {
    if (this.inFlight + this.admittedSinceRead >= this.limit) return false;
    this.admittedSinceRead++;
    return true;
  }

  private async read(): Promise<boolean> {
    const {
      rows: [now = { count: 0, medianAgeMs: 0 }],
    } = await this.pool().query<InFlight>(
      `SELECT count(*)::int AS "count",
              coalesce(extract(epoch FROM now() - percentile_disc(0.5) WITHIN GROUP (ORDER BY created_at)) * 1000, 0)::float8 AS "medianAgeMs"
         FROM orders WHERE status = 'created' AND created_at > now() - make_interval(secs => $1)`,
      [HORIZON_SECONDS],
    );
    this.inFlight = now.count;
    this.admittedSinceRead = 0;
    this.limit = nextLimit(this.limit, now, this.policy);
    return false;
  }
}
