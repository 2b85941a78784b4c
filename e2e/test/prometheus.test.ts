import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { metricNames, waitFor } from '@simplebank/chassis/testing';
import { ORDER_PATH } from '@simplebank/stack';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  call,
  cancelReachedMarket,
  newAccount,
  noFaults,
  order,
  placeOrder,
  setFaults,
  settled,
  tokenOf,
  url,
} from './system.ts';

/**
 * The real Prometheus (Debian's `prometheus`) with the repository's scrape
 * configuration, its targets moved to this run's services, scrapes the system while orders run
 * through it; then every query of every provisioned Grafana panel must answer data, and every
 * metric an alert or recording rule reads must exist.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const services = ORDER_PATH;

let prometheus: ChildProcess | undefined;
let prometheusUrl = '';
let workDir = '';
let stopHealthChecks = () => {};

interface ScrapeConfig {
  job_name: string;
  static_configs: { targets: string[]; labels: Record<string, string> }[];
}
interface PrometheusConfig {
  global: Record<string, string>;
  alerting?: unknown;
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
}

/** prometheus/prometheus.local.yml with its targets on this run's ports; 1 s scrapes and rules. */
function scrapeConfiguration(): string {
  const config = parse(
    readFileSync(join(root, 'prometheus', 'prometheus.local.yml'), 'utf8'),
  ) as PrometheusConfig;
  const hostOf = (address: string) => new URL(address).host;
  config.global.scrape_interval = '1s';
  config.global.evaluation_interval = '1s';
  delete config.alerting; // no Alertmanager in this test: the rules are evaluated, not routed
  config.rule_files = config.rule_files.map((glob) => join(root, 'prometheus', glob));
  for (const job of config.scrape_configs)
    for (const group of job.static_configs) {
      const service = group.labels.service as string;
      if (job.job_name === 'simplebank')
        group.targets = [hostOf(inject(`ops:${service as (typeof services)[number]}`))];
      else if (job.job_name === 'statsd_exporter') group.targets = [hostOf(inject('url:statsd-exporter'))];
      // rabbitmq and rabbitmq_queues: the local broker's plugin, as configured
    }
  return stringify(config);
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as { status: string; error?: string; data: { result: never[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result;
}

/** Data: at least one sample that is a number (a quantile of no observations is NaN, not data). */
const hasData = async (expr: string) => (await query(expr)).some((s) => !Number.isNaN(Number(s.value[1])));

/** Orders that reach every terminal status, with a compensation and a failed call on the way. */
async function driveOrders() {
  const seller = await newAccount('1000.00', [{ symbol: 'ACME', quantity: 50 }]);
  const buyer = await newAccount('5000.00');
  const sold = await Promise.all([1, 2, 3].map(() => placeOrder('sell', seller, 'ACME', 2)));
  const bought = await Promise.all([1, 2].map(() => placeOrder('buy', buyer, 'ACME', 1)));
  for (const id of [...sold, ...bought]) expect((await settled(id)).status).toBe('executed');

  await setFaults({ reject_rate: 1 }); // failed: C1–C3
  expect((await settled(await placeOrder('sell', seller, 'ACME', 1))).status).toBe('failed');

  await setFaults({ ...noFaults, error_rate: 1 }); // canceled while the exchange refuses it
  const canceling = await placeOrder('sell', seller, 'ACME', 1);
  await waitFor('the order to be created', async () => (await order(canceling)).status === 'created');
  const cancel = await call(url.gateway, 'DELETE', `/orders/${canceling}`, undefined, {
    token: tokenOf(seller),
  });
  expect(cancel.status).toBeLessThan(300);
  // an unanswered attempt may have reached the exchange: the order ends once it answers the withdrawal
  await cancelReachedMarket(canceling);
  await setFaults(noFaults);
  expect((await settled(canceling, 30_000)).status).toBe('canceled');

  await setFaults({ ...noFaults, fill_delay_ms: 60_000, order_ttl_ms: 500 }); // expired
  expect((await settled(await placeOrder('sell', seller, 'ACME', 1))).status).toBe('expired');
  await setFaults(noFaults);
}

/** A load balancer's health checks, every half second: what the book's `health` timer measures. */
function healthChecks(): () => void {
  const timer = setInterval(() => {
    for (const service of services) fetch(`${inject(`ops:${service}`)}/health`).catch(() => undefined);
  }, 500);
  return () => clearInterval(timer);
}

beforeAll(async () => {
  try {
    execFileSync('prometheus', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error("prometheus is not installed: apt-get install prometheus (Debian's package)");
  }
  const plugin = await fetch('http://127.0.0.1:15692/metrics').catch(() => undefined);
  if (!plugin?.ok)
    throw new Error("RabbitMQ's Prometheus plugin is off: rabbitmq-plugins enable rabbitmq_prometheus");

  workDir = mkdtempSync(join(tmpdir(), 'simplebank-prometheus-'));
  writeFileSync(join(workDir, 'prometheus.yml'), scrapeConfiguration());
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(workDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(workDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage', // the latency panels' links to traces
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  await waitFor(
    'Prometheus to be ready',
    async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => undefined))?.ok,
    { timeoutMs: 30_000 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${output.join('').slice(-2000)}`);
  });
  // Orders driven before the first scrape would be counted as the series' first values, not as
  // increases: wait until Prometheus has scraped every target once.
  const missing = await stillMissing(missingTargets, 30_000);
  if (missing.length > 0) throw new Error(`targets never scraped: ${missing.join(', ')}`);
  stopHealthChecks = healthChecks();
  await driveOrders();
}, 120_000);

afterAll(() => {
  stopHealthChecks();
  prometheus?.kill('SIGTERM');
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

interface Panel {
  type: string;
  title: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

const dashboards = readdirSync(join(root, 'grafana', 'dashboards')).map((file) => ({
  file,
  panels: (JSON.parse(readFileSync(join(root, 'grafana', 'dashboards', file), 'utf8')) as { panels: Panel[] })
    .panels,
}));

/** Grafana's variables, as Grafana would fill them for a dashboard opened on the last hour. */
const fill = (expr: string, service = '') =>
  expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replaceAll('$service', service);

/** Waits until no query is missing, or gives the ones still missing. */
async function stillMissing(check: () => Promise<string[]>, timeoutMs = 45_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let missing = await check();
  while (missing.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the next scrape
    missing = await check();
  }
  return missing;
}

/** The repository's targets (job/service) that Prometheus has not scraped successfully. */
async function missingTargets(): Promise<string[]> {
  const up = await query('up == 1');
  const scraped = new Set(up.map((s) => `${s.metric.job}/${s.metric.service}`));
  const expected = [
    ...services.map((s) => `simplebank/${s}`),
    'statsd_exporter/statsd-exporter',
    'rabbitmq/rabbitmq',
    'rabbitmq_queues/rabbitmq',
  ];
  return expected.filter((target) => !scraped.has(target));
}

describe('Prometheus, scraping the running system', () => {
  it('scrapes every target of the repository configuration', async () => {
    expect(await stillMissing(missingTargets)).toEqual([]);
  });

  it('answers data for every query of every provisioned Grafana panel', async () => {
    // The golden-signals board is per service: each query, for each service an order passes
    // through, wherever that service has the metric at all (the gateway consumes no messages).
    const sagaServices = services.filter((s) => s !== 'alerts');
    const checks: { what: string; expr: string; applies?: string; panel: string }[] = dashboards.flatMap(
      ({ file, panels }) =>
        panels
          .flatMap((p) => [p, ...(p.panels ?? [])])
          .flatMap((panel) =>
            (panel.targets ?? []).flatMap(
              ({ expr }): { what: string; expr: string; applies?: string; panel: string }[] => {
                if (!expr) return [];
                if (!expr.includes('$service'))
                  return [{ what: `${file} "${panel.title}": ${expr}`, expr: fill(expr), panel: expr }];
                const [metric] = metricNames(expr);
                return sagaServices.map((service) => ({
                  what: `${file} "${panel.title}" for ${service}: ${expr}`,
                  expr: fill(expr, service),
                  applies: `count(${metric}{service="${service}"})`,
                  panel: expr,
                }));
              },
            ),
          ),
    );
    expect(checks.length).toBeGreaterThan(60);
    // A panel that has shown data once has passed: a rate over an idle minute fades again.
    let waiting = checks;
    const shown = new Set<string>();
    const missing = await stillMissing(async () => {
      const answers = await Promise.all(
        waiting.map(async (c) => {
          if (await hasData(c.expr)) return shown.add(c.panel);
          return c.applies !== undefined && !(await hasData(c.applies));
        }),
      );
      waiting = waiting.filter((_, i) => !answers[i]);
      return waiting.map((c) => c.what);
    });
    expect(missing).toEqual([]);
    // and no per-service query passed only because no service has its metric
    expect(checks.filter((c) => !shown.has(c.panel)).map((c) => c.what)).toEqual([]);
  });

  it("keeps latency exemplars whose traceID is a trace the services exported (the panels' link to Jaeger)", async () => {
    const otlp = inject('url:otlp');
    const now = Date.now() / 1000;
    const exemplars = async (histogram: string) => {
      const response = await fetch(
        `${prometheusUrl}/api/v1/query_exemplars?query=${encodeURIComponent(histogram)}&start=${now - 600}&end=${now + 60}`,
      );
      const body = (await response.json()) as { data: { exemplars: { labels: { traceID?: string } }[] }[] };
      return body.data.flatMap((series) => series.exemplars.map((e) => e.labels.traceID ?? ''));
    };
    for (const histogram of [
      'http_request_duration_seconds_bucket{service="gateway",route="/shares/sell"}',
      'message_handler_duration_seconds_bucket{service="account-transactions"}',
      'rpc_call_duration_seconds_bucket{service="orders",side="server"}',
    ]) {
      const traceIds = await waitFor(`exemplars of ${histogram}`, async () => {
        const found = await exemplars(histogram);
        return found.length > 0 ? found : undefined;
      });
      expect(traceIds.every((id) => /^[0-9a-f]{32}$/.test(id))).toBe(true);
      const spans = (await (await fetch(`${otlp}/spans?trace_id=${traceIds[0]}`)).json()) as unknown[];
      expect(spans.length, `spans of trace ${traceIds[0]}`).toBeGreaterThan(0);
    }
  });

  it('has every metric that an alert or recording rule reads', async () => {
    const rules = readdirSync(join(root, 'prometheus', 'rules')).flatMap((file) => {
      const { groups } = parse(readFileSync(join(root, 'prometheus', 'rules', file), 'utf8')) as {
        groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
      };
      return groups.flatMap((g) => g.rules);
    });
    const names = [...new Set(rules.flatMap((r) => metricNames(String(r.expr))))];
    expect(names).toEqual(
      expect.arrayContaining(['up', 'saga_orders_total', 'rabbitmq_detailed_queue_messages']),
    );
    const missing = await stillMissing(async () => {
      const present = await Promise.all(names.map((name) => hasData(`count({__name__="${name}"})`)));
      return names.filter((_, i) => !present[i]);
    });
    expect(missing).toEqual([]);
  });
});
