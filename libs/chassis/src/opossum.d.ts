// The part of opossum 10 (which ships no types) the chassis uses. Kept out of the chassis' public
// types on purpose: services see `HttpClient`, never the breaker behind it.
declare module 'opossum' {
  import { EventEmitter } from 'node:events';

  namespace CircuitBreaker {
    interface Options {
      name?: string;
      /** The breaker's own timeout; `false` leaves timeouts to the action. */
      timeout?: number | false;
      resetTimeout?: number;
      errorThresholdPercentage?: number;
      volumeThreshold?: number;
      rollingCountTimeout?: number;
      rollingCountBuckets?: number;
      rollingPercentilesEnabled?: boolean;
      enableSnapshots?: boolean;
      errorFilter?: (error: unknown) => boolean;
    }
  }

  class CircuitBreaker<A extends unknown[] = unknown[], R = unknown> extends EventEmitter {
    constructor(action: (...args: A) => Promise<R>, options?: CircuitBreaker.Options);
    fire(...args: A): Promise<R>;
    open(): void;
    close(): void;
    shutdown(): void;
    readonly opened: boolean;
    readonly halfOpen: boolean;
    readonly closed: boolean;
    readonly stats: { fires: number; failures: number; successes: number; rejects: number; timeouts: number };
    static isOurError(error: unknown): boolean;
  }

  export = CircuitBreaker;
}
