// The load, in a process of its own so its CPU is not the system's: customers placing orders at
// the gateway for a fixed time, then one JSON line of results on stdout.
//   closed loop (rate 0): each customer sends its next order when the last is answered, or
//     when its Retry-After has passed if it was refused (what the README asks of clients);
//   open loop (rate > 0): orders start at that many per second, whatever the answers.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface DriverConfig {
  gateway: string;
  customers: { accountId: string; token: string }[];
  seconds: number;
  rate: number;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface DriverResult {
  accepted: number;
  refused: Record<string, number>;
  /** Of the orders accepted (202). */
  latencyMs: Percentiles;
  /** Of the answers that refused an order (503, 429): overload is to be refused fast. */
  refusalLatencyMs: Percentiles;
  cpuSeconds: number;
  startedAt: string;
  endedAt: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as DriverConfig;
const pool = new Pool(config.gateway, { connections: Math.max(config.customers.length, 32), pipelining: 1 });
const latencies: number[] = [];
const refusalLatencies: number[] = [];
const refused: Record<string, number> = {};
let accepted = 0;
let sent = 0;

/**
 * One order: sells and buys of one ACME share alternate, so no account runs dry. Resolves with the
 * seconds a refusal's Retry-After asks to wait (0 without one).
 */
async function placeOrder(customer: DriverConfig['customers'][number]): Promise<number> {
  const side = sent++ % 2 === 0 ? 'sell' : 'buy';
  const started = performance.now();
  try {
    const { statusCode, headers, body } = await pool.request({
      method: 'POST',
      path: `/shares/${side}`,
      headers: {
        authorization: `Bearer ${customer.token}`,
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      body: JSON.stringify({ account_id: customer.accountId, symbol: 'ACME', quantity: 1 }),
    });
    const text = await body.text();
    const took = performance.now() - started;
    if (statusCode === 202) {
      accepted++;
      latencies.push(took);
      return 0;
    }
    if (statusCode === 503 || statusCode === 429) refusalLatencies.push(took);
    const code = `${statusCode} ${(JSON.parse(text) as { error?: { code?: string } }).error?.code ?? ''}`;
    refused[code] = (refused[code] ?? 0) + 1;
    return Number(headers['retry-after'] ?? 0) || 0;
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'network';
    refused[code] = (refused[code] ?? 0) + 1;
    return 0;
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0);

const startedAt = new Date();
const cpuBefore = process.cpuUsage();
const deadline = performance.now() + config.seconds * 1000;
if (config.rate > 0) {
  const inFlight = new Set<Promise<unknown>>();
  const interval = 1000 / config.rate;
  let next = performance.now();
  let turn = 0;
  while (next < deadline) {
    const customer = config.customers[turn++ % config.customers.length];
    if (customer === undefined) break;
    const order = placeOrder(customer).finally(() => inFlight.delete(order));
    inFlight.add(order);
    next += interval;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait)); // pacing, not synchronization
  }
  await Promise.all(inFlight);
} else {
  await Promise.all(
    config.customers.map(async (customer) => {
      while (performance.now() < deadline) {
        const retryAfter = await placeOrder(customer);
        // a client told to come back later does (bounded by the run's end)
        const wait = Math.min(retryAfter * 1000, deadline - performance.now());
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }),
  );
}
const endedAt = new Date();
const cpu = process.cpuUsage(cpuBefore);
await pool.close();

const percentiles = (values: number[]): Percentiles => {
  const sorted = values.sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? 0,
  };
};
const result: DriverResult = {
  accepted,
  refused,
  latencyMs: percentiles(latencies),
  refusalLatencyMs: percentiles(refusalLatencies),
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  startedAt: startedAt.toISOString(),
  endedAt: endedAt.toISOString(),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
