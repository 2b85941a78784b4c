/**
 * At most `size` pieces of work at once; the others wait their turn in arrival order. A service's
 * event handlers and RPC methods share one, sized to its database pool, so that however many
 * queues it consumes, its handlers never wait for a connection (nor time out waiting for one).
 */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
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
