/** Fault injection: how badly the simulated exchange behaves, settable at run time. Pure. */

export interface ExchangeFaults {
  /** Added before every trading request (orders, executions, quotes) is answered. */
  latency_ms: number;
  /** Share of trading requests answered 503, as if the exchange were down. */
  error_rate: number;
  /** Share of new orders refused with 422. */
  reject_rate: number;
  /** How long a new order rests before it may fill. */
  fill_delay_ms: number;
  /** How long an order may rest unfilled before it expires. */
  order_ttl_ms: number;
}

/** Whether this request finds the exchange down. `random` is uniform in [0, 1). */
export const isOutage = (faults: ExchangeFaults, random: () => number): boolean =>
  random() < faults.error_rate;

/**
 * Whether a new order is refused. An order the exchange already holds never is: the caller asks
 * again because it did not hear the first answer.
 */
export const isRejected = (faults: ExchangeFaults, alreadyHeld: boolean, random: () => number): boolean =>
  !alreadyHeld && random() < faults.reject_rate;
