// pnpm bench: the whole system on this machine under load from a separate process,
// then one table of what it did and what it cost, the two reference measurements beside it, and
// the chassis' own cost over bare fastify. BENCH_SECONDS, BENCH_CLIENTS, BENCH_RATES,
// BENCH_RATE_SECONDS change the load; see the README's "Benchmark" section. It also
// says what an order costs in work (CPU by process, transactions, statements, messages, spans).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dropSuiteVhosts, freshDatabase, freshVhost, waitFor } from '@simplebank/chassis/testing';
import { seedAccounts } from '@simplebank/load';
import { instanceLabel, missingInfrastructure, ORDER_PATH, SERVICES, Stack } from '@simplebank/stack';
import pg from 'pg';
import { amqpFloor } from './amqp-floor.ts';
import { chassisCost } from './chassis-cost.ts';
import type { DriverConfig, DriverResult } from './driver.ts';
import { recordPeaks } from './memory-record.ts';
import { captureStatements, pgFloor } from './pg-floor.ts';
import { cpuReadings, cpuSpent, peakResidentMib } from './processes.ts';
import { pgbench, rabbitmqRoundTrip } from './references.ts';
import { ms, print, refusals, round } from './report.ts';
import { executedPerSecond, ordersInFlight, QueueDepth, sagaFigures } from './saga-readings.ts';
import { SpanSink } from './span-sink.ts';
import {
  pgTransactions,
  STATS_SETTLE_MS,
  scrapeMetrics,
  type WorkWindow,
  workPerOrder,
  workRows,
} from './work-counters.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const clients = Number(process.env.BENCH_CLIENTS ?? 20);
// open-loop rates, one run each; BENCH_RATE, the single rate this used to take, still works
const rates = (process.env.BENCH_RATES ?? process.env.BENCH_RATE ?? '150,300')
  .split(',')
  .map(Number)
  .filter((r) => r > 0);
const rateSeconds = Number(process.env.BENCH_RATE_SECONDS ?? 30);
// the statements replayed for the exact-work floor: this long, from the middle of the throughput run
const captureSeconds = Number(process.env.BENCH_CAPTURE_SECONDS ?? 3);
const debugToken = process.env.DEBUG_TOKEN || randomUUID(); // yours, to profile a service meanwhile
const PREFIX = 'simplebank_bench_';
const VHOST = 'simplebank_bench';

const say = (line: string) => process.stderr.write(`${line}\n`);

const missing = await missingInfrastructure();
if (missing.length > 0) {
  for (const line of missing) say(line);
  process.exit(1);
}

// In place of Jaeger: counts the spans every service exports (tracing stays on) and drops them.
const sink = new SpanSink();
const otlpEndpoint = await sink.start();

say(
  `SimpleBank benchmark: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${seconds} s at ${clients} clients, then ${rateSeconds} s at each of ${rates.join(', ')} orders/s`,
);
say('fresh databases and vhost…');
const DATABASES = ['orders', 'account_transactions', 'fees', 'market', 'stock_exchange'];
const [ordersUrl = ''] = await Promise.all(DATABASES.map((s) => freshDatabase(`${PREFIX}${s}`)));
/** The service's database, if it has one of those above. */
const databaseUrl = (service: string): string | undefined => {
  const name = service.replaceAll('-', '_');
  if (!DATABASES.includes(name)) return undefined;
  const url = new URL(ordersUrl);
  url.pathname = `/${PREFIX}${name}`;
  return url.toString();
};
await dropSuiteVhosts(); // the test suites' queues would weigh on the broker being measured
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
    // /debug/statements, for the exact-work floor (internal services only)
    DEBUG_TOKEN: debugToken,
    // the bench measures what the system settles, not one customer's order budget (10 a second):
    // its 20 customers send up to 15 each at 300/s
    ORDER_RATE_LIMIT_MAX: '1000000',
  },
});
say('starting every service…');
await stack.start().catch(async (error: Error) => {
  for (const [service, lines] of lastLines) say(`${service}:\n  ${lines.join('\n  ')}`);
  await stack.stop();
  throw error;
});
const ordersDb = new pg.Pool({ connectionString: ordersUrl, max: 2 });
// Each query of the pool is one transaction in orders' database that is the bench's, not the
// system's: counted, to be taken off that database's count.
let benchTransactions = 0;
ordersDb.on('acquire', () => benchTransactions++);
const queues = new QueueDepth(amqpUrl, VHOST);

try {
  // One customer per client, each account rich enough for every order of the run.
  const { accounts } = await seedAccounts({
    accountsUrl: stack.urls['account-transactions'],
    adminToken: stack.adminToken,
    gatewayUrl: stack.urls.gateway,
    count: clients,
    prefix: 'bench',
    cash: '100000000.00',
    positions: [{ symbol: 'ACME', quantity: 1_000_000 }],
    signIn: true,
  });
  const customers = accounts.map((a) => ({ accountId: a.account_id, token: a.token ?? '' }));
  say(`${customers.length} customers seeded`);

  // The counters PostgreSQL and the span exporters report late must not carry the seeding into
  // the window: they are read once the system has been idle long enough for both to catch up.
  say('letting the counters settle…');
  await sleep(STATS_SETTLE_MS);
  const workBefore = await workReadings();
  const benchTransactionsBefore = benchTransactions;

  say(`throughput: ${clients} clients placing orders for ${seconds} s…`);
  const cpuBefore = cpuReadings((name) => stack.pids(name));
  const cpuFrom = performance.now();
  const loadStart = new Date();
  const capturing = sleep(Math.max(0, (seconds - captureSeconds) / 2) * 1000).then(() =>
    captureStatements(
      instances().flatMap(({ service, url }) => {
        const database = databaseUrl(service);
        return database === undefined ? [] : [{ url, databaseUrl: database }];
      }),
      captureSeconds,
      debugToken,
    ),
  );
  const load = await drive({ gateway: stack.urls.gateway, customers, seconds, rate: 0 });
  const captures = await capturing;
  const loadEnd = new Date();
  await queues.refreshNames();
  const leftInQueues = await queues.total();
  const leftInFlight = await ordersInFlight(ordersDb);
  const drainMs = await drained();
  const cpuAfter = cpuReadings((name) => stack.pids(name));
  const cpuWallSeconds = (performance.now() - cpuFrom) / 1000; // the load, the readings, the drain
  // The same settle at this end, so the window's last transactions and spans are in; the work
  // counters' window is this one's, plus the settles' idle pollers and scrapes (a few a second).
  await sleep(STATS_SETTLE_MS);
  const workAfter = await workReadings();
  const benchTransactionsInWindow = benchTransactions - benchTransactionsBefore;
  const work: WorkWindow = {
    metrics: [workBefore.metrics, workAfter.metrics],
    transactions: [workBefore.transactions, workAfter.transactions],
    spans: [workBefore.spans, workAfter.spans],
    benchTransactions: { database: `${PREFIX}orders`, count: benchTransactionsInWindow },
    prefix: PREFIX,
    // CPU and spans are shown the way an order goes, alerts last
    services: ORDER_PATH,
    completed: 0, // set below, once the saga's figures are read
  };
  const saga = await sagaFigures(ordersDb, loadStart, loadEnd);
  work.completed = saga.terminal;
  const executedRate = await executedPerSecond(ordersDb, loadStart, loadEnd);

  const paced = [];
  for (const rate of rates) {
    say(`latency: ${rate} orders/s for ${rateSeconds} s…`);
    const start = new Date();
    const run = await drive({ gateway: stack.urls.gateway, customers, seconds: rateSeconds, rate });
    const end = new Date();
    // over capacity, the backlog of an open-loop run takes longer to clear than the throughput run's
    await drained(180_000);
    paced.push({
      rate,
      run,
      seconds: (end.getTime() - start.getTime()) / 1000,
      saga: await sagaFigures(ordersDb, start, end),
      executedRate: await executedPerSecond(ordersDb, start, end),
    });
  }

  const memory = SERVICES.map(({ name }) => [name, peakResidentMib(stack.pid(name) ?? 0)] as const);
  await stack.stop();
  if (process.env.BENCH_RECORD_MEMORY === '1') {
    const raised = recordPeaks(join(root, 'deploy', 'measured-memory.json'), memory, root);
    say(
      `deploy/measured-memory.json: ${raised.length > 0 ? `raised ${raised.join(', ')}` : 'no peak above the record'}`,
    );
  }

  say('reference: RabbitMQ round trip…');
  const rabbit = await rabbitmqRoundTrip(amqpUrl);
  say('reference: pgbench -N…');
  const tps = await pgbench();
  const perOrder = workPerOrder(work);
  say('exact-work floor: the captured statements, replayed…');
  const pgWork = await pgFloor(captures, perOrder);
  say('exact-work floor: the same messages, bare…');
  // an RPC is two more messages through the broker: the request and its reply
  const messages = {
    published: perOrder.published + 2 * perOrder.rpc,
    delivered: perOrder.delivered + 2 * perOrder.rpc,
  };
  const amqpWork = await amqpFloor(amqpUrl, messages);
  const amqpPaced = await amqpFloor(amqpUrl, messages, Math.ceil(executedRate * 10), executedRate);
  say('chassis cost: bare fastify, then the chassis…');
  const route = await chassisCost({
    AMQP_URL: amqpUrl,
    LOG_LEVEL: 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
  });

  const loadSeconds = (loadEnd.getTime() - loadStart.getTime()) / 1000;
  const cpu = cpuSpent(cpuBefore, cpuAfter);
  const servicesCpu = Object.values(cpu.byService).reduce((a, b) => a + b, 0);
  const systemCpu = cpu.machine - load.cpuSeconds - cpu.bench;
  const completed = saga.terminal;
  const cpuPerOrder = (s: number) => round((s * 1000) / Math.max(completed, 1), 2);
  const rows: [string, string][] = [
    ['orders accepted per second', round(load.accepted / loadSeconds)],
    ['orders executed per second (sustained, in the window)', round(executedRate)],
    ['orders reaching a terminal state per second', round(completed / loadSeconds)],
    ['refused by the gateway', refusals(load.refused)],
    [`gateway latency p50 / p95 / p99 at ${clients} clients, accepted (ms)`, ms(load.latencyMs)],
    ['  refused (ms)', ms(load.refusalLatencyMs)],
    [`saga completion created → executed p50 / p95 / p99 (ms)`, ms(saga.completionMs)],
    ...paced.flatMap(({ rate, run, seconds, saga, executedRate }): [string, string][] => [
      [`gateway latency p50 / p95 / p99 at ${rate}/s, accepted (ms)`, ms(run.latencyMs)],
      ['  refused (ms)', ms(run.refusalLatencyMs)],
      [`saga completion p50 / p95 / p99 at ${rate}/s (ms)`, ms(saga.completionMs)],
      [
        `orders accepted / executed per second at ${rate}/s`,
        `${round(run.accepted / seconds)} / ${round(executedRate)}`,
      ],
      [`refused by the gateway at ${rate}/s`, refusals(run.refused)],
    ]),
    ['messages in the queues when the load stopped', String(leftInQueues)],
    ['orders in flight when the load stopped', String(leftInFlight)],
    ['time until queues empty and every order ended (ms)', round(drainMs)],
    ['CPU ms per completed order, every process', cpuPerOrder(systemCpu)],
    [
      '  of which services / RabbitMQ / PostgreSQL / Redis / other',
      [
        servicesCpu,
        cpu.rabbitmq,
        cpu.postgres,
        cpu.redis,
        systemCpu - servicesCpu - cpu.rabbitmq - cpu.postgres - cpu.redis,
      ]
        .map(cpuPerOrder)
        .join(' / '),
    ],
    ...ORDER_PATH.map((name): [string, string] => [
      `  services, by process: ${name}`,
      cpuPerOrder(cpu.byService[name] ?? 0),
    ]),
    [
      'CPU busy during the run (of all cores)',
      `${round((100 * systemCpu) / (cpuWallSeconds * cpus().length))} %`,
    ],
    ...workRows(work),
    ...memory.map(([name, mib]) => [`peak resident memory: ${name} (MiB)`, round(mib)] as [string, string]),
    ['reference: RabbitMQ round trip, quorum queue, confirms + acks (msg/s)', round(rabbit)],
    ['reference: pgbench -N, 4 clients (tps)', round(tps)],
    ['saga executed/s ÷ RabbitMQ round trip msg/s', round(executedRate / rabbit, 4)],
    ['saga executed/s ÷ pgbench tps', round(executedRate / tps, 4)],
  ];
  print('Saga under load', rows);
  const floor = pgWork.statementCpuMsPerOrder + pgWork.commitCpuMsPerOrder + amqpWork.rabbitmqCpuMsPerOrder;
  const perOrderMs = (s: number) => (s * 1000) / Math.max(completed, 1);
  print(
    "The exact-work floor: one order's statements and messages, without the services (CPU ms per order)",
    [
      [
        'statements replayed (order-equivalents; failed on replay, left out)',
        `${pgWork.statements} (${round(pgWork.orders, 1)}; ${pgWork.skipped})`,
      ],
      [
        'PostgreSQL: the statements, rolled back / the commits apart',
        `${round(pgWork.statementCpuMsPerOrder, 2)} / ${round(pgWork.commitCpuMsPerOrder, 2)}`,
      ],
      [
        `RabbitMQ: ${round(messages.published, 2)} published, ${round(messages.delivered, 2)} delivered, RPC's included (bare client's own CPU)`,
        `${round(amqpWork.rabbitmqCpuMsPerOrder, 2)} (${round(amqpWork.clientCpuMsPerOrder, 2)})`,
      ],
      [
        `RabbitMQ, the same paced at the system's ${round(executedRate)} orders a second`,
        `${round(amqpPaced.rabbitmqCpuMsPerOrder, 2)} (${round(amqpPaced.clientCpuMsPerOrder, 2)})`,
      ],
      ['floor, PostgreSQL + RabbitMQ flat out', round(floor, 2)],
      ['the system, every process ÷ floor', `${round(perOrderMs(systemCpu) / floor, 1)} ×`],
      [
        'PostgreSQL in the system ÷ its floor',
        `${round(perOrderMs(cpu.postgres) / (pgWork.statementCpuMsPerOrder + pgWork.commitCpuMsPerOrder), 1)} ×`,
      ],
      [
        'RabbitMQ in the system ÷ its floor',
        `${round(perOrderMs(cpu.rabbitmq) / amqpWork.rabbitmqCpuMsPerOrder, 1)} ×`,
      ],
    ],
  );
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

/** Every running instance of every service: its service, its name in the figures, its operations URL. */
function instances() {
  return SERVICES.flatMap(({ name }) =>
    Array.from({ length: stack.instanceCount(name) }, (_, i) => ({
      service: name,
      name: stack.instanceCount(name) === 1 ? name : instanceLabel(name, i),
      url: stack.opsUrl(name, i),
    })),
  );
}

/** The counters of work done: PostgreSQL's transactions, the spans received, every instance's /metrics. */
async function workReadings() {
  const transactions = await pgTransactions(ordersUrl, `${PREFIX.replaceAll('_', '\\_')}%`);
  const spans = sink.counts();
  const metrics = await scrapeMetrics(instances());
  return { transactions, spans, metrics };
}

/** Resolves with the milliseconds until no message waits and no order is in flight. */
async function drained(timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  await waitFor(
    'the system to drain after the load',
    async () => (await queues.total()) === 0 && (await ordersInFlight(ordersDb)) === 0,
    { timeoutMs },
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
