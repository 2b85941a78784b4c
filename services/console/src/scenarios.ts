// The named fault scenarios of the README ("Named fault scenarios"), as switches: what each sets on
// which administrative route when turned on and off, and what to watch meanwhile. No I/O here.

/** Whose `/admin/faults` a scenario sets: the exchange simulator's, or fees' handler switch. */
export type FaultTarget = 'exchange' | 'fees';

export interface Scenario {
  name: string;
  title: string;
  target: FaultTarget;
  on: Record<string, number>;
  off: Record<string, number>;
  watch: string;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'exchange-down',
    title: 'Exchange down',
    target: 'exchange',
    on: { error_rate: 1 },
    off: { error_rate: 0 },
    watch:
      "market's circuit breaker to the exchange opens (Golden Signals); orders wait in created, then execute when it is back, or fail exchange_unavailable after the placement deadline",
  },
  {
    name: 'exchange-rejecting',
    title: 'Exchange rejecting every order',
    target: 'exchange',
    on: { reject_rate: 1 },
    off: { reject_rate: 0 },
    watch: 'orders fail exchange_rejected; holds released and fees refunded (the Saga board, compensations)',
  },
  {
    name: 'slow-exchange',
    title: 'Slow exchange',
    target: 'exchange',
    on: { latency_ms: 2500 },
    off: { latency_ms: 0 },
    watch:
      "placements time out after market's 2 s, are retried and the breaker opens; the Place Order board's place_order_stock_exchange timer climbs",
  },
  {
    name: 'slow-fees',
    title: 'Slow fees',
    target: 'fees',
    on: { handler_delay_ms: 2000 },
    off: { handler_delay_ms: 0 },
    watch: "fees' queue backs up (the RabbitMQ board), saga latency grows, nothing is lost",
  },
  {
    name: 'failing-fees',
    title: 'Failing fees',
    target: 'fees',
    on: { handler_failure_rate: 1 },
    off: { handler_failure_rate: 0 },
    watch:
      'messages go through the retry queues and are parked after 5 attempts (DeadLetterQueueNotEmpty fires); turn it off and replay them with pnpm parked',
  },
];

export const scenarioNamed = (name: string): Scenario | undefined => SCENARIOS.find((s) => s.name === name);

/** A scenario is on when every setting it turns on has that value now. */
export const isOn = (scenario: Scenario, faults: Record<string, unknown>): boolean =>
  Object.entries(scenario.on).every(([key, value]) => faults[key] === value);
