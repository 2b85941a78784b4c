/** Thrown by `Slots.run` when as many pieces of work wait as its `maxWaiting` allows. */
export class SlotsFull extends Error {
  override name = 'SlotsFull';
}

/**
 * At most `size` pieces of work at once; the others wait their turn in arrival order. A service's
 * event handlers and RPC methods share one, sized to its database pool, so that however many
 * queues it consumes, its handlers never wait for a connection (nor time out waiting for one).
 * With `maxWaiting`, work beyond that many waiting is refused at once (`SlotsFull`), for work
 * whose memory must stay bounded however many ask (password hashing).
 */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly size: number,
    private readonly limits: { maxWaiting?: number } = {},
  ) {
    this.free = size;
  }

  /** Pieces of work waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else if (this.waiting.length >= (this.limits.maxWaiting ?? Number.POSITIVE_INFINITY))
      throw new SlotsFull(`${this.size} running and ${this.waiting.length} waiting already`);
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      // hand the slot straight to the next in line, or give it back
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
