import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMetrics } from '@simplebank/chassis';
import { describe, expect, it } from 'vitest';
import { metricNames } from '../src/promql.ts';

// Static checks of grafana/, statsd/, logstash/ and kibana/: no Grafana or Prometheus needed.
const root = new URL('../../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface Target {
  expr?: string;
  datasource?: { uid?: string };
}
interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { datasource?: { uid?: string } }[] };
}

const files = readdirSync(join(root, 'grafana/dashboards')).filter((f) => f.endsWith('.json'));
const dashboards = files.map((file) => ({
  file,
  board: JSON.parse(read(`grafana/dashboards/${file}`)) as Dashboard,
}));
const panelsOf = (board: Dashboard) =>
  board.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
const exprs = dashboards.flatMap(({ file, board }) =>
  panelsOf(board).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ file, panel: p.title, expr: t.expr ?? '' })),
  ),
);

/** Metric names this repository defines: the chassis' registry (with prom-client's defaults), services' own. */
function definedMetrics(): Set<string> {
  const names = new Set<string>();
  const { registry } = createMetrics('dashboards-test');
  for (const metric of registry.getMetricsAsArray()) names.add(metric.name);
  // the services' own, and the chassis' that a service registers itself (compensationsCounter)
  const dirs = [
    ...readdirSync(join(root, 'services')).map((service) => join(root, 'services', service, 'src')),
    join(root, 'libs', 'chassis', 'src'),
  ];
  for (const dir of dirs) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/name: '([a-z_:][a-z0-9_:]*)'/g))
        names.add(m[1] as string);
    }
  }
  for (const m of read('statsd/mapping.yml').matchAll(/^\s+name: "([a-z_:][a-z0-9_:]*)"/gm))
    if (m[1] !== 'dropped') names.add(m[1] as string);
  return names;
}

/** RabbitMQ's rabbitmq_prometheus plugin (node totals and queue_coarse_metrics), outside this repo. */
const rabbitmqMetrics = [
  'rabbitmq_detailed_queue_messages',
  'rabbitmq_detailed_queue_messages_ready',
  'rabbitmq_detailed_queue_messages_unacked',
  'rabbitmq_queues',
  'rabbitmq_consumers',
  'rabbitmq_connections',
  'rabbitmq_channels',
  'rabbitmq_global_messages_received_total',
  'rabbitmq_global_messages_routed_total',
  'rabbitmq_global_messages_delivered_total',
  'rabbitmq_global_messages_acknowledged_total',
  'rabbitmq_global_messages_redelivered_total',
  'rabbitmq_global_messages_confirmed_total',
  'rabbitmq_global_messages_unroutable_dropped_total',
  'rabbitmq_global_messages_unroutable_returned_total',
  'rabbitmq_global_messages_dead_lettered_rejected_total',
];

/** A histogram's or summary's series are its name with _bucket, _sum or _count. */
const baseName = (name: string, known: Set<string>) =>
  known.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');

describe('Grafana dashboards', () => {
  it('are valid JSON with a unique uid, a title and schemaVersion ≥ 39', () => {
    expect(files.sort()).toEqual(['golden-signals.json', 'place-order.json', 'rabbitmq.json', 'saga.json']);
    const uids = dashboards.map(({ board }) => board.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const { board } of dashboards) {
      expect(board.uid).toMatch(/^[a-z0-9-]{1,40}$/);
      expect(board.title).not.toBe('');
      expect(board.schemaVersion).toBeGreaterThanOrEqual(39);
    }
    expect(dashboards.map(({ board }) => board.title)).toEqual(
      expect.arrayContaining([
        'Place Order',
        'RabbitMQ Metrics',
        'Sell-order saga',
        'Service golden signals',
      ]),
    );
  });

  it('every panel has targets with an expression, and panel ids are unique per dashboard', () => {
    for (const { file, board } of dashboards) {
      const panels = panelsOf(board);
      expect(panels.length, file).toBeGreaterThan(3);
      for (const panel of panels) {
        expect(panel.targets?.length, `${file}: ${panel.title}`).toBeGreaterThan(0);
        for (const target of panel.targets ?? [])
          expect(target.expr?.trim(), `${file}: ${panel.title}`).toBeTruthy();
      }
      const ids = board.panels.map((p) => (p as unknown as { id: number }).id);
      expect(new Set(ids).size, file).toBe(ids.length);
    }
  });

  it('every metric an expression names exists in this repository or is a known exporter metric', () => {
    const known = definedMetrics();
    for (const name of rabbitmqMetrics) known.add(name);
    // sanity: the extraction finds what it should
    expect(
      metricNames('sum by (le) (rate(saga_step_seconds_bucket{step="placed"}[$__rate_interval]))'),
    ).toEqual(['saga_step_seconds_bucket']);
    const unknown = exprs
      .flatMap(({ file, panel, expr }) => metricNames(expr).map((name) => ({ file, panel, name })))
      .filter(({ name }) => !known.has(baseName(name, known)));
    expect(unknown).toEqual([]);
    // every metric family the brief names is on some board
    const used = new Set(exprs.flatMap(({ expr }) => metricNames(expr).map((n) => baseName(n, known))));
    for (const name of [
      'simplebank_timer_seconds',
      'rabbitmq_detailed_queue_messages',
      'saga_orders_total',
      'saga_step_seconds',
      'saga_compensations_total',
      'saga_orders_in_flight',
      'http_request_duration_seconds',
      'message_handler_duration_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
      'outbox_pending_messages',
    ])
      expect(used, name).toContain(name);
  });

  it('Place Order has a panel for each of the book’s timers', () => {
    const board = dashboards.find(({ file }) => file === 'place-order.json')?.board as Dashboard;
    const text = JSON.stringify(board);
    for (const timer of [
      'request_reservation',
      'charge_fee',
      'sell_shares',
      'place_order_stock_exchange',
      'place_order',
      'health',
    ])
      expect(text).toContain(`timer=\\"${timer}\\"`);
  });

  it('references only provisioned data sources', () => {
    const provisioned = [
      ...read('grafana/provisioning/datasources/datasources.yml').matchAll(/^\s+uid: (\S+)/gm),
    ].map((m) => m[1]);
    expect(provisioned).toEqual(['prometheus', 'jaeger', 'elasticsearch']);
    const referenced = new Set<string>();
    for (const { board } of dashboards) {
      for (const panel of panelsOf(board)) {
        if (panel.datasource?.uid) referenced.add(panel.datasource.uid);
        for (const t of panel.targets ?? []) if (t.datasource?.uid) referenced.add(t.datasource.uid);
      }
      for (const variable of board.templating.list)
        if (variable.datasource?.uid) referenced.add(variable.datasource.uid);
    }
    for (const uid of referenced) expect(provisioned).toContain(uid);
    // the links between them point at provisioned uids too
    for (const m of read('grafana/provisioning/datasources/datasources.yml').matchAll(
      /datasourceUid: (\S+)/g,
    ))
      expect(provisioned).toContain(m[1]);
  });

  it('every expression parses (promtool check rules)', (context) => {
    try {
      execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    } catch {
      context.skip();
    }
    // Grafana's variables replaced by values PromQL accepts; each expression a recording rule.
    const concrete = (expr: string) =>
      expr
        .replaceAll('$__rate_interval', '1m')
        .replaceAll('$__range', '1h')
        .replaceAll('$__interval', '1m')
        .replaceAll('$service', 'gateway');
    const rules = exprs.map(
      ({ expr }, i) => `      - record: dashboard:expr_${i}\n        expr: ${JSON.stringify(concrete(expr))}`,
    );
    const dir = mkdtempSync(join(tmpdir(), 'simplebank-dashboards-'));
    const file = join(dir, 'dashboards.rules.yml');
    writeFileSync(file, `groups:\n  - name: dashboards\n    rules:\n${rules.join('\n')}\n`);
    const output = execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    expect(output).toContain(`${exprs.length} rules found`);
  });
});

describe('StatsD mapping, log pipeline and Kibana objects', () => {
  it('maps every simplebank timer to simplebank_timer_seconds with service and timer labels', () => {
    const mapping = read('statsd/mapping.yml');
    expect(mapping).toMatch(/- match: "simplebank\.\*\.\*"\n\s+name: "simplebank_timer_seconds"/);
    expect(mapping).toMatch(/service: "\$1"/);
    expect(mapping).toMatch(/timer: "\$2"/);
  });

  it('the index template maps the fields searched on as keywords and @timestamp as a date', () => {
    const template = JSON.parse(read('logstash/templates/simplebank.json'));
    expect(template.index_patterns).toEqual(['simplebank-*']);
    const properties = template.template.mappings.properties;
    expect(properties['@timestamp'].type).toBe('date');
    for (const field of ['trace_id', 'span_id', 'order_id', 'service', 'level'])
      expect(properties[field].type, field).toBe('keyword');
    const pipeline = read('logstash/pipeline/simplebank.conf');
    expect(pipeline).toContain('codec => json_lines');
    expect(pipeline).toContain('/usr/share/logstash/templates/simplebank.json');
    expect(pipeline).toContain('index => "simplebank-%{+YYYY.MM.dd}"');
  });

  it("Kibana's saved objects: the simplebank-* data view and the search for one order's story", () => {
    const objects = read('kibana/saved-objects.ndjson')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    const view = objects.find((o) => o.type === 'index-pattern');
    expect(view.attributes).toMatchObject({ title: 'simplebank-*', timeFieldName: '@timestamp' });
    const search = objects.find((o) => o.type === 'search');
    expect(search.attributes.title).toBe("One order's story");
    expect(search.attributes.columns).toEqual(['service', 'level', 'message', 'trace_id']);
    expect(search.attributes.sort).toEqual([['@timestamp', 'asc']]);
    const source = JSON.parse(search.attributes.kibanaSavedObjectMeta.searchSourceJSON);
    expect(source.query.query).toMatch(/^order_id:".+"$/);
    expect(search.references[0].id).toBe(view.id);
  });
});
