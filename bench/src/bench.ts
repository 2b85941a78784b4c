// pnpm bench (issue 7): the whole system on this machine under load from a separate process,
// then one table of what it did and what it cost, the two reference measurements beside it, and
// the chassis' own cost over bare fastify. BENCH_SECONDS, BENCH_CLIENTS, BENCH_RATE,
// BENCH_RATE_SECONDS change the load; see the README's "Benchmark" section.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freshDatabase, freshVhost, waitFor } from '@simplebank/chassis/testing';
import { seedAccounts } from '@simplebank/load';
import { missingInfrastructure, SERVICES, Stack } from '@simplebank/stack';
import pg from 'pg';
import { chassisCost } from './chassis-cost.ts';
import type { DriverConfig, DriverResult } from './driver.ts';
import { groupCpuSeconds, machineBusySeconds, peakResidentMib, pidsNamed } from './processes.ts';
import { pgbench, rabbitmqRoundTrip } from './references.ts';
import { executedPerSecond, ordersInFlight, QueueDepth, sagaFigures } from './saga-readings.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const clients = Number(process.env.BENCH_CLIENTS ?? 20);
const rate = Number(process.env.BENCH_RATE ?? 150);
const rateSeconds = Number(process.env.BENCH_RATE_SECONDS ?? 30);
const PREFIX = 'simplebank_bench_';
const VHOST = 'simplebank_bench';

const say = (line: string) => process.stderr.write(`${line}\n`);
const round = (n: number, digits = 0) => n.toFixed(digits);

const missing = await missingInfrastructure();
if (missing.length > 0) {
  for (const line of missing) say(line);
  process.exit(1);
}

// In place of Jaeger: takes the spans every service exports (tracing stays on) and drops them.
const sink = createServer((request, response) => {
  request.resume();
  request.on('end', () => response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
});
sink.listen(0, '127.0.0.1');
await once(sink, 'listening');
const otlpEndpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

say(
  `SimpleBank benchmark: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${seconds} s at ${clients} clients, then ${rateSeconds} s at ${rate} orders/s`,
);
say('fresh databases and vhost…');
const [ordersUrl] = await Promise.all(
  ['orders', 'account_transactions', 'fees', 'market', 'stock_exchange'].map((s) =>
    freshDatabase(`${PREFIX}${s}`),
  ),
);
const amqpUrl = await freshVhost(VHOST);
const lastLines = new Map<string, string[]>();
const stack = new Stack({
  root,
  portOffset: 30_000,
  // each service's last lines, shown if it fails to start
  onLine: (service, line) => {
    const lines = lastLines.get(service) ?? [];
    lines.push(line);
    lastLines.set(service, lines.slice(-5));
  },
  env: {
    DATABASE_PREFIX: PREFIX,
    AMQP_URL: amqpUrl,
    REDIS_PREFIX: `bench-${Date.now()}:`,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
  },
});
say('starting every service…');
await stack.start().catch(async (error: Error) => {
  for (const [service, lines] of lastLines) say(`${service}:\n  ${lines.join('\n  ')}`);
  await stack.stop();
  throw error;
});
const ordersDb = new pg.Pool({ connectionString: ordersUrl, max: 2 });
const queues = new QueueDepth(amqpUrl, VHOST);

try {
  // One customer per client, each account rich enough for every order of the run.
  const { accounts } = await seedAccounts({
    accountsUrl: stack.urls['account-transactions'],
    gatewayUrl: stack.urls.gateway,
    count: clients,
    prefix: 'bench',
    cash: '100000000.00',
    positions: [{ symbol: 'ACME', quantity: 1_000_000 }],
    signIn: true,
  });
  const customers = accounts.map((a) => ({ accountId: a.account_id, token: a.token ?? '' }));
  say(`${customers.length} customers seeded`);

  say(`throughput: ${clients} clients placing orders for ${seconds} s…`);
  const cpuBefore = cpuReadings();
  const cpuFrom = performance.now();
  const loadStart = new Date();
  const load = await drive({ gateway: stack.urls.gateway, customers, seconds, rate: 0 });
  const loadEnd = new Date();
  await queues.refreshNames();
  const leftInQueues = await queues.total();
  const leftInFlight = await ordersInFlight(ordersDb);
  const drainMs = await drained();
  const cpuAfter = cpuReadings();
  const cpuWallSeconds = (performance.now() - cpuFrom) / 1000; // the load, the readings, the drain
  const saga = await sagaFigures(ordersDb, loadStart, loadEnd);
  const executedRate = await executedPerSecond(ordersDb, loadStart, loadEnd);

  say(`latency: ${rate} orders/s for ${rateSeconds} s…`);
  const pacedStart = new Date();
  const paced = await drive({ gateway: stack.urls.gateway, customers, seconds: rateSeconds, rate });
  const pacedEnd = new Date();
  await drained();
  const pacedSaga = await sagaFigures(ordersDb, pacedStart, pacedEnd);

  const memory = SERVICES.map(({ name }) => [name, peakResidentMib(stack.pid(name) ?? 0)] as const);
  await stack.stop();

  say('reference: RabbitMQ round trip…');
  const rabbit = await rabbitmqRoundTrip(amqpUrl);
  say('reference: pgbench -N…');
  const tps = await pgbench();
  say('chassis cost: bare fastify, then the chassis…');
  const route = await chassisCost({
    AMQP_URL: amqpUrl,
    LOG_LEVEL: 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
  });

  const loadSeconds = (loadEnd.getTime() - loadStart.getTime()) / 1000;
  const cpu = Object.fromEntries(
    Object.entries(cpuAfter).map(([k, v]) => [k, v - (cpuBefore[k as keyof typeof cpuBefore] ?? 0)]),
  ) as ReturnType<typeof cpuReadings>;
  const systemCpu = cpu.machine - load.cpuSeconds - cpu.bench;
  const completed = saga.terminal;
  const rows: [string, string][] = [
    ['orders accepted per second', round(load.accepted / loadSeconds)],
    ['orders executed per second (sustained, in the window)', round(executedRate)],
    ['orders reaching a terminal state per second', round(completed / loadSeconds)],
    ['refused by the gateway', JSON.stringify(load.refused)],
    [`gateway latency p50 / p95 / p99 at ${clients} clients (ms)`, ms(load.latencyMs)],
    [`saga completion created → executed p50 / p95 / p99 (ms)`, ms(saga.completionMs)],
    [`gateway latency p50 / p95 / p99 at ${rate}/s (ms)`, ms(paced.latencyMs)],
    [`saga completion p50 / p95 / p99 at ${rate}/s (ms)`, ms(pacedSaga.completionMs)],
    ['messages in the queues when the load stopped', String(leftInQueues)],
    ['orders in flight when the load stopped', String(leftInFlight)],
    ['time until queues empty and every order ended (ms)', round(drainMs)],
    ['CPU ms per completed order, every process', round((systemCpu * 1000) / Math.max(completed, 1), 2)],
    [
      '  of which services / RabbitMQ / PostgreSQL / Redis / other',
      [
        cpu.services,
        cpu.rabbitmq,
        cpu.postgres,
        cpu.redis,
        systemCpu - cpu.services - cpu.rabbitmq - cpu.postgres - cpu.redis,
      ]
        .map((s) => round((s * 1000) / Math.max(completed, 1), 2))
        .join(' / '),
    ],
    [
      'CPU busy during the run (of all cores)',
      `${round((100 * systemCpu) / (cpuWallSeconds * cpus().length))} %`,
    ],
    ...memory.map(([name, mib]) => [`peak resident memory: ${name} (MiB)`, round(mib)] as [string, string]),
    ['reference: RabbitMQ round trip, quorum queue, confirms + acks (msg/s)', round(rabbit)],
    ['reference: pgbench -N, 4 clients (tps)', round(tps)],
    ['saga executed/s ÷ RabbitMQ round trip msg/s', round(executedRate / rabbit, 4)],
    ['saga executed/s ÷ pgbench tps', round(executedRate / tps, 4)],
  ];
  print('Saga under load', rows);
  print("The chassis' own cost (GET /hello, 20 connections, autocannon)", [
    ['', 'req/s      p50 ms   p99 ms'],
    [
      'bare fastify',
      `${round(route.bare.requestsPerSecond).padEnd(10)} ${String(route.bare.p50Ms).padEnd(8)} ${route.bare.p99Ms}`,
    ],
    [
      'chassis (logs, metrics, tracing)',
      `${round(route.chassis.requestsPerSecond).padEnd(10)} ${String(route.chassis.p50Ms).padEnd(8)} ${route.chassis.p99Ms}`,
    ],
    ['chassis ÷ bare', `${round((100 * route.chassis.requestsPerSecond) / route.bare.requestsPerSecond)} %`],
  ]);
} finally {
  await stack.stop();
  await ordersDb.end();
  await queues.close();
  sink.close();
}

function ms(p: { p50: number; p95: number; p99: number }): string {
  return [p.p50, p.p95, p.p99].map((v) => round(v)).join(' / ');
}

function print(title: string, rows: [string, string][]) {
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${title}`);
  console.log('-'.repeat(width + 24));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

/** CPU seconds so far: the machine, this process, the services, and each piece of infrastructure. */
function cpuReadings() {
  const own = process.cpuUsage();
  return {
    machine: machineBusySeconds(),
    bench: (own.user + own.system) / 1e6,
    services: groupCpuSeconds(SERVICES.map(({ name }) => stack.pid(name) ?? 0)),
    rabbitmq: groupCpuSeconds(pidsNamed('beam.smp')),
    postgres: groupCpuSeconds(pidsNamed('postgres')),
    redis: groupCpuSeconds(pidsNamed('redis-server')),
  };
}

/** Resolves with the milliseconds until no message waits and no order is in flight (60 s at most). */
async function drained(): Promise<number> {
  const started = performance.now();
  await waitFor(
    'the system to drain after the load',
    async () => (await queues.total()) === 0 && (await ordersInFlight(ordersDb)) === 0,
    { timeoutMs: 60_000 },
  );
  return performance.now() - started;
}

/** Runs the load driver as its own process and returns what it measured. */
async function drive(config: DriverConfig): Promise<DriverResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [fileURLToPath(new URL('./driver.ts', import.meta.url)), JSON.stringify(config)],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as DriverResult;
}
