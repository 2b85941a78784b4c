import { prometheus as client, compensationsCounter, type Metrics, type Pool } from '@simplebank/chassis';
import type { OrderSide } from '@simplebank/contracts';
import { isTerminal, type OrderStatus } from './domain/order-status.ts';

/** Seconds from an order's creation to a step: placement takes ms, a fill seconds, an expiry minutes. */
const stepBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/**
 * The saga seen from orders, which holds every order's status (README, "Metrics and alerts"):
 * - `saga_orders_total{side,status}`: orders that reached a terminal status;
 * - `saga_step_seconds{step}`: time from the order's creation to each status it reached;
 * - `saga_orders_in_flight` and `saga_oldest_order_in_flight_age_seconds`: orders not yet
 *   terminal (created or placed), counted at each scrape;
 * - `saga_compensations_total{compensation="C1",reason}`: orders that C1 ended failed or canceled.
 */
export function sagaMetrics(registry: Metrics['registry'], pool: () => Pool) {
  let inFlight: Promise<{ count: number; oldest: number } | undefined> | undefined;
  // One query per scrape serves both gauges; the partial index orders_in_flight keeps it cheap.
  const readInFlight = () => {
    inFlight ??= pool()
      .query<{ count: number; oldest: number | null }>(
        `SELECT count(*)::int AS count, extract(epoch FROM now() - min(created_at))::float8 AS oldest
         FROM orders WHERE status IN ('created', 'placed')`,
      )
      .then(({ rows }) => ({ count: rows[0]?.count ?? 0, oldest: Math.max(0, rows[0]?.oldest ?? 0) }))
      .catch(() => undefined) // database away: keep the last values rather than fail the scrape
      .finally(() => setImmediate(() => (inFlight = undefined)));
    return inFlight;
  };
  const orders = new client.Counter({
    name: 'saga_orders_total',
    help: 'Orders that reached a terminal status (executed, failed, canceled, expired), by side',
    labelNames: ['side', 'status'],
    registers: [registry],
  });
  // Every series from the start at 0: the first order of a kind is then an increase, not a new
  // series that rate() and increase() would miss.
  for (const side of ['sell', 'buy'] as const)
    for (const status of ['executed', 'failed', 'canceled', 'expired'] as const)
      orders.inc({ side, status }, 0);
  const steps = new client.Histogram({
    name: 'saga_step_seconds',
    help: "Seconds from an order's creation to each step it reached (placed, executed, failed, canceled, expired)",
    labelNames: ['step'],
    buckets: stepBuckets,
    registers: [registry],
  });
  for (const step of ['placed', 'executed', 'failed', 'canceled', 'expired'] as const) steps.zero({ step });
  const compensations = compensationsCounter(registry);
  new client.Gauge({
    name: 'saga_orders_in_flight',
    help: 'Orders not yet in a terminal status (created or placed), at each scrape',
    registers: [registry],
    async collect() {
      const read = await readInFlight();
      if (read) this.set(read.count);
    },
  });
  new client.Gauge({
    name: 'saga_oldest_order_in_flight_age_seconds',
    help: 'Age of the oldest order not yet in a terminal status; 0 when there is none',
    registers: [registry],
    async collect() {
      const read = await readInFlight();
      if (read) this.set(read.oldest);
    },
  });
  return {
    /** Records that an order created at `createdAt` moved to `status` at `at` (after the commit). */
    moved(
      order: { side: OrderSide; created_at: Date },
      status: OrderStatus,
      at: Date,
      reason?: string,
    ): void {
      steps.observe({ step: status }, Math.max(0, (at.getTime() - order.created_at.getTime()) / 1000));
      if (!isTerminal(status)) return;
      orders.inc({ side: order.side, status });
      if (status === 'failed' || status === 'canceled') {
        compensations.inc({ compensation: 'C1', reason: reason ?? 'unknown' });
      }
    },
  };
}
export type SagaMetrics = ReturnType<typeof sagaMetrics>;
