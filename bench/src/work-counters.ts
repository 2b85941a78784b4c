// The work an order costs, counted where the system counts it, as deltas over the throughput
// window: each service's own Prometheus counters (messages, RPC requests, SQL statements, handler
// batch sizes) and PostgreSQL's transaction counters (pg_stat_database).
import pg from 'pg';
import type { SpanCounts } from './span-sink.ts';

/** One line of a /metrics page: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample of every service instance's /metrics, and the instances that did not answer. */
export interface MetricsReading {
  samples: Sample[];
  failed: string[];
}

/**
 * Reads every target's /metrics now. Each sample gets an `instance` label (the URL), so that two
 * instances of a service, whose own labels are the same, stay two series.
 */
export async function scrapeMetrics(targets: { name: string; url: string }[]): Promise<MetricsReading> {
  const failed: string[] = [];
  const pages = await Promise.all(
    targets.map(async ({ name, url }) => {
      try {
        const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
        if (!response.ok) throw new Error(`status ${response.status}`);
        return parseMetrics(await response.text()).map((s) => ({
          ...s,
          labels: { ...s.labels, instance: url },
        }));
      } catch {
        failed.push(name);
        return [];
      }
    }),
  );
  return { samples: pages.flat(), failed };
}

/**
 * The samples of a Prometheus or OpenMetrics text page (prom-client's): `name{a="x",b="y"} value`,
 * in OpenMetrics possibly followed by a timestamp and ` # {traceID="…"} value timestamp` (an
 * exemplar). Comments (`# TYPE`, `# HELP`, `# EOF`) are skipped.
 */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (name === undefined) continue;
    let at = name.length;
    const labels: Record<string, string> = {};
    if (line[at] === '{') {
      at++;
      // label values are quoted with \\, \" and \n escaped, and may hold spaces, commas and braces
      while (line[at] !== '}' && at < line.length) {
        const eq = line.indexOf('="', at);
        if (eq < 0) break;
        const key = line.slice(at, eq).replace(/^,/, '');
        let value = '';
        for (at = eq + 2; at < line.length && line[at] !== '"'; at++) {
          if (line[at] === '\\') value += line[++at] === 'n' ? '\n' : (line[at] ?? '');
          else value += line[at];
        }
        labels[key] = value;
        at++; // the closing quote
        if (line[at] === ',') at++;
      }
      at++; // the closing brace
    }
    const value = line.slice(at).split(' # ')[0]?.trim().split(/\s+/)[0];
    if (value !== undefined && value !== '') samples.push({ name, labels, value: Number(value) });
  }
  return samples;
}

const seriesKey = (s: Sample) =>
  `${s.name}{${Object.entries(s.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;

/**
 * What each counter (and histogram bucket, count and sum) grew by between two readings. A series
 * that is new in `after` grew from 0; one that went down was reset (its process restarted) and
 * grew by what it holds now.
 */
export function delta(before: Sample[], after: Sample[]): Sample[] {
  const earlier = new Map(before.map((s) => [seriesKey(s), s.value]));
  return after.map((s) => {
    const from = earlier.get(seriesKey(s)) ?? 0;
    return { ...s, value: s.value >= from ? s.value - from : s.value };
  });
}

/** The sum over every series of `name` whose labels include `where`; undefined if there is no such series. */
export function sum(samples: Sample[], name: string, where: Record<string, string> = {}): number | undefined {
  const matching = samples.filter(
    (s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v),
  );
  return matching.length === 0 ? undefined : matching.reduce((total, s) => total + s.value, 0);
}

/**
 * The upper bound of the histogram bucket its q-quantile falls in (summed over every series of
 * it): "p95 ≤ 8". Not interpolated within the bucket as Prometheus' histogram_quantile does,
 * which for whole numbers such as batch sizes would say 0.5 when every batch was 1. Infinity if
 * it falls in +Inf; undefined if there is no such histogram or nothing was observed.
 */
export function histogramQuantileBound(samples: Sample[], name: string, q: number): number | undefined {
  const cumulative = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue;
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    cumulative.set(le, (cumulative.get(le) ?? 0) + s.value);
  }
  const buckets = [...cumulative].sort(([a], [b]) => a - b);
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return undefined;
  return buckets.find(([, count]) => count >= q * total)?.[0];
}

/** Transactions committed and rolled back so far, by database. */
export type PgTransactions = Map<string, { commit: number; rollback: number }>;

/**
 * pg_stat_database's transaction counters of the databases named like `pattern`, read now.
 *
 * Since PostgreSQL 15 each backend keeps its counts to itself and adds them to the shared ones at
 * most once a second, and an idle backend only after up to 10 s (PGSTAT_IDLE_INTERVAL): read
 * right after a run, the last second or so of it is missing. So the bench reads these after a
 * settle of STATS_SETTLE_MS with the system idle (at both ends of the window), which lets
 * every backend flush; what the idle system does meanwhile (its pollers) is counted too, a few
 * transactions a second. Each reading is a fresh connection, to the `postgres` database (not one
 * of those counted), so there is no cached stats snapshot (stats_fetch_consistency) to clear.
 */
export async function pgTransactions(anyDatabaseUrl: string, pattern: string): Promise<PgTransactions> {
  const url = new URL(anyDatabaseUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string; commit: string; rollback: string }>(
      `SELECT datname, xact_commit AS commit, xact_rollback AS rollback
         FROM pg_stat_database WHERE datname LIKE $1`,
      [pattern],
    );
    return new Map(rows.map((r) => [r.datname, { commit: Number(r.commit), rollback: Number(r.rollback) }]));
  } finally {
    await client.end();
  }
}

/**
 * Long enough for every PostgreSQL backend to flush its counts (PGSTAT_IDLE_INTERVAL, 10 s) and
 * every service's last batch of spans to be exported (OTEL_BSP_SCHEDULE_DELAY, 5 s).
 */
export const STATS_SETTLE_MS = 11_000;

/** The counters read at both ends of the throughput window. */
export interface WorkWindow {
  metrics: [MetricsReading, MetricsReading];
  transactions: [PgTransactions, PgTransactions];
  spans: [SpanCounts, SpanCounts];
  /** Transactions the bench itself ran meanwhile (its queries of orders' tables), and where. */
  benchTransactions: { database: string; count: number };
  /** Database name prefix, left out of the names shown. */
  prefix: string;
  /** The services in the order their figures are shown. */
  services: readonly string[];
  completed: number;
}

/** Transactions committed (or rolled back) in the window, by database, the bench's own left out. */
function transactionsGrown(w: WorkWindow) {
  const [pgBefore, pgAfter] = w.transactions;
  const grew = (database: string, kind: 'commit' | 'rollback') =>
    (pgAfter.get(database)?.[kind] ?? 0) -
    (pgBefore.get(database)?.[kind] ?? 0) -
    (kind === 'commit' && database === w.benchTransactions.database ? w.benchTransactions.count : 0);
  const total = (kind: 'commit' | 'rollback') => [...pgAfter.keys()].reduce((t, d) => t + grew(d, kind), 0);
  return { grew, total, databases: [...pgAfter.keys()] };
}

/** What the exact-work floor replays per order: statements and commits, messages, RPC requests. */
export function workPerOrder(w: WorkWindow) {
  const metrics = delta(w.metrics[0].samples, w.metrics[1].samples);
  const perOrder = (n: number | undefined) => (n ?? 0) / Math.max(w.completed, 1);
  return {
    statements: perOrder(sum(metrics, 'db_statements_total')),
    transactions: perOrder(transactionsGrown(w).total('commit')),
    published: perOrder(sum(metrics, 'messages_published_total')),
    delivered: perOrder(sum(metrics, 'message_handler_duration_seconds_count')),
    rpc: perOrder(sum(metrics, 'rpc_call_duration_seconds_count', { side: 'server' })),
  };
}

/** The table's rows of what an order cost in work: transactions, statements, messages, spans. */
export function workRows(w: WorkWindow): [string, string][] {
  const perOrder = (n: number | undefined) =>
    n === undefined ? 'n/a' : (n / Math.max(w.completed, 1)).toFixed(2);
  // one figure per service in the CPU rows' order, then anything counted under another name
  const byService = (figure: (service: string) => number | undefined, others: [string, number][] = []) =>
    [
      ...w.services.map((service) => {
        const n = figure(service);
        return n === undefined ? '–' : perOrder(n);
      }),
      ...others.filter(([, n]) => n !== 0).map(([name, n]) => `${name} ${perOrder(n)}`),
    ].join(' / ');
  const metrics = delta(w.metrics[0].samples, w.metrics[1].samples);
  const counter = (name: string, where: Record<string, string> = {}) => {
    const n = sum(metrics, name, where);
    return n === undefined ? `n/a (no ${name})` : perOrder(n);
  };

  const { grew, total, databases } = transactionsGrown(w);
  const databaseOf = (service: string) => `${w.prefix}${service.replaceAll('-', '_')}`;
  const otherDatabases = databases
    .filter((d) => !w.services.some((s) => databaseOf(s) === d))
    .map((d): [string, number] => [d.replace(w.prefix, ''), grew(d, 'commit')]);

  const live = [...new Set(metrics.map((s) => s.name).filter((n) => /^live_\w*_total$/.test(n)))];
  const batches = sum(metrics, 'handler_batch_size_count') ?? 0;
  const batchBound = (q: number) => {
    const bound = histogramQuantileBound(metrics, 'handler_batch_size', q);
    return bound === undefined ? 'n/a' : Number.isFinite(bound) ? `≤ ${bound}` : 'over the top bucket';
  };

  const [spansBefore, spansAfter] = w.spans;
  const spans = (service: string) =>
    (spansAfter.byService[service] ?? 0) - (spansBefore.byService[service] ?? 0);
  const otherSpans = Object.keys(spansAfter.byService)
    .filter((s) => !w.services.includes(s))
    .map((s): [string, number] => [s, spans(s)]);
  const unreadable = spansAfter.unreadable - spansBefore.unreadable;
  const failed = [...new Set([...w.metrics[0].failed, ...w.metrics[1].failed])];

  const rows: [string, string][] = [
    [
      'PostgreSQL transactions per completed order, committed / rolled back',
      `${perOrder(total('commit'))} / ${perOrder(total('rollback'))}`,
    ],
    [
      '  committed, by service (as the CPU rows)',
      byService(
        (s) => (databases.includes(databaseOf(s)) ? grew(databaseOf(s), 'commit') : undefined),
        otherDatabases,
      ),
    ],
    ['SQL statements per completed order', counter('db_statements_total')],
  ];
  if (sum(metrics, 'db_statements_total') !== undefined)
    rows.push([
      '  by service (as the CPU rows)',
      byService((service) => sum(metrics, 'db_statements_total', { service })),
    ]);
  rows.push(
    ['messages published per completed order', counter('messages_published_total')],
    ['messages delivered to handlers per completed order', counter('message_handler_duration_seconds_count')],
    [
      'RPC requests served per completed order',
      counter('rpc_call_duration_seconds_count', { side: 'server' }),
    ],
    ...(live.length === 0
      ? [['live deliveries per completed order', 'n/a (no live_*_total metric)'] as [string, string]]
      : live.map((name): [string, string] => [
          `live deliveries per completed order (${name})`,
          counter(name),
        ])),
    [
      'handler batch size p50 / p95 (bucket bound) / mean (messages)',
      batches === 0
        ? 'n/a (no handler_batch_size observed)'
        : `${batchBound(0.5)} / ${batchBound(0.95)} / ${((sum(metrics, 'handler_batch_size_sum') ?? 0) / batches).toFixed(2)}`,
    ],
    [
      `spans exported per completed order${unreadable > 0 ? ` (${unreadable} exports unreadable)` : ''}`,
      perOrder([...w.services, ...otherSpans.map(([s]) => s)].reduce((t, s) => t + spans(s), 0)),
    ],
    ['  by service (as the CPU rows)', byService(spans, otherSpans)],
  );
  if (failed.length > 0) rows.push(['/metrics not read (figures above lack them)', failed.join(', ')]);
  return rows;
}
