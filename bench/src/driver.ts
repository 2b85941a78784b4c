// The load, in a process of its own so its CPU is not the system's: customers placing orders at
// the gateway for a fixed time, then one JSON line of results on stdout.
//   closed loop (rate 0): each customer sends its next order when the last is answered; after a
//     refusal, after a back-off of 50–150 ms (not the whole Retry-After second: twenty clients
//     refused together in one of the gateway's 100 ms shedding windows would all sleep a second
//     and leave the system idle, and ignoring it sends hundreds of refused requests a second);
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
// Open loop: as many connections as orders start in a second, as that many customers would have.
// With 32, at 300/s past capacity the orders queued in this process, where the gateway could not
// refuse them, and their wait was counted as the system's.
const pool = new Pool(config.gateway, {
  connections: Math.max(config.customers.length, 32, config.rate),
  pipelining: 1,
});
const latencies: number[] = [];
const refusalLatencies: number[] = [];
const refused: Record<string, number> = {};
let accepted = 0;
let sent = 0;

/**
 * One order: sells and buys of one ACME share alternate, so no account runs dry. Resolves with
 * whether it was refused for overload (503 or 429).
 */
async function placeOrder(customer: DriverConfig['customers'][number]): Promise<boolean> {
  const side = sent++ % 2 === 0 ? 'sell' : 'buy';
  const started = performance.now();
  try {
    const { statusCode, body } = await pool.request({
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
      return false;
    }
    const overload = statusCode === 503 || statusCode === 429;
    if (overload) refusalLatencies.push(took);
    const code = `${statusCode} ${(JSON.parse(text) as { error?: { code?: string } }).error?.code ?? ''}`;
    refused[code] = (refused[code] ?? 0) + 1;
    return overload;
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'network';
    refused[code] = (refused[code] ?? 0) + 1;
    return false;
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
        if (await placeOrder(customer)) {
          const backOff = 50 + Math.random() * 100; // a client's back-off, not synchronization
          await new Promise((resolve) => setTimeout(resolve, backOff));
        }
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
