import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  PRODUCTION_RULES,
  prometheusRulesYaml,
  RULES_DIR,
  type RuleGroup,
  ruleFiles,
} from '../prometheus-rules.ts';
import { type K8sObject, kustomize, modelOf, OVERLAYS, readRepoFile, readYaml, root } from './repo.ts';

// A cluster observable as the compose stack is: the same alert rules, Alertmanager routing to the
// alerts service, the StatsD exporter with the same mapping and Jaeger with the same configuration.

const files = ruleFiles(new URL(`file://${root}/`));
const withoutNamespace = (groups: RuleGroup[]) =>
  groups.map((group) => ({
    ...group,
    rules: group.rules.map(({ labels, ...rule }) => {
      if (labels === undefined) return rule;
      const { namespace: _namespace, ...rest } = labels;
      return Object.keys(rest).length > 0 ? { ...rule, labels: rest } : rule;
    }),
  }));

let production: K8sObject[] = [];
let monitoring: K8sObject[] = [];
beforeAll(async () => {
  [production, monitoring] = await Promise.all([
    kustomize('k8s/overlays/production'),
    kustomize('k8s/monitoring'),
  ]);
}, 60_000);

describe('alert rules in the production cluster (PrometheusRule)', () => {
  it(`is ${PRODUCTION_RULES} as \`pnpm prometheus:rules\` writes it today`, () => {
    expect(readRepoFile(PRODUCTION_RULES)).toBe(prometheusRulesYaml(readRepoFile, files));
  });

  it.each(files)('%s: the same groups, rules, expressions and annotations as compose loads', (file) => {
    const rule = production.find(
      (o) => o.kind === 'PrometheusRule' && o.metadata.name === `simplebank-${file.replace('.yml', '')}`,
    );
    expect(rule, file).toBeDefined();
    const source = (readYaml(RULES_DIR, file) as { groups: RuleGroup[] }).groups;
    const groups = (rule?.spec.groups ?? []) as RuleGroup[];
    expect(withoutNamespace(groups)).toEqual(source);
    // every alert, and nothing else, carries the namespace the Alertmanager route matches
    for (const { rules } of groups) {
      for (const r of rules)
        expect(r.labels?.namespace, r.alert ?? r.record).toBe(r.alert ? 'simplebank' : undefined);
    }
    expect(rule?.metadata.labels?.release).toBe('kube-prometheus-stack');
  });
});

describe('Alertmanager in the production cluster (AlertmanagerConfig)', () => {
  it("routes as alertmanager/alertmanager.yml does, to the alerts service's webhook", () => {
    const compose = parse(readRepoFile('alertmanager', 'alertmanager.yml')) as {
      route: { group_by: string[]; group_wait: string; group_interval: string; repeat_interval: string };
      receivers: { webhook_configs: { url: string; send_resolved: boolean }[] }[];
    };
    const config = production.find((o) => o.kind === 'AlertmanagerConfig');
    expect(config?.metadata.namespace).toBe('simplebank');
    const { route, receivers } = config?.spec ?? {};
    expect(route.groupBy).toEqual(compose.route.group_by);
    expect([route.groupWait, route.groupInterval, route.repeatInterval]).toEqual([
      compose.route.group_wait,
      compose.route.group_interval,
      compose.route.repeat_interval,
    ]);
    const [webhook] = receivers.find((r: { name: string }) => r.name === route.receiver).webhookConfigs;
    const composeUrl = new URL(compose.receivers[0]?.webhook_configs[0]?.url ?? '');
    const url = new URL(webhook.url);
    expect(url.hostname).toBe('alerts.simplebank.svc');
    expect([url.port, url.pathname]).toEqual([composeUrl.port, composeUrl.pathname]);
    expect(webhook.sendResolved).toBe(true);
    // the alerts service's network policy admits Alertmanager on that port
    const policy = production.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'alerts');
    const admitted = policy?.spec.ingress.find(
      (rule: { from: { podSelector?: { matchLabels?: Record<string, string> } }[] }) =>
        rule.from.some(
          (peer) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'alertmanager',
        ),
    );
    expect(admitted?.ports).toContainEqual({ protocol: 'TCP', port: Number(url.port) });
  });
});

const matchesLabels = (selector: Record<string, string> = {}, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

describe('k8s/monitoring: where the services send their timers and spans', () => {
  it('follows the Kubernetes schemas, all in namespace monitoring', async () => {
    expect(monitoring.length).toBeGreaterThanOrEqual(8);
    for (const object of monitoring) {
      const Model = await modelOf(object);
      expect(() => new Model(object).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
      const namespace = object.kind === 'Namespace' ? object.metadata.name : object.metadata.namespace;
      expect(namespace, `${object.kind} ${object.metadata.name}`).toBe('monitoring');
    }
  });

  it.each(OVERLAYS)(
    'answers where the %s overlay points every service: StatsD on 9125/UDP, OTLP on 4318',
    async (overlay) => {
      const objects = overlay === 'production' ? production : await kustomize(`k8s/overlays/${overlay}`);
      const config = objects.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('simplebank-config'),
      );
      // tracing on, on the laptop cluster too
      expect(config?.data.OTEL_SDK_DISABLED).toBeUndefined();
      const service = (name: string) =>
        monitoring.find((o) => o.kind === 'Service' && o.metadata.name === name);
      expect(config?.data.STATSD_HOST).toBe('statsd-exporter.monitoring');
      expect(service('statsd-exporter')?.spec.ports).toContainEqual(
        expect.objectContaining({ port: Number(config?.data.STATSD_PORT), protocol: 'UDP' }),
      );
      const otlp = new URL(config?.data.OTEL_EXPORTER_OTLP_ENDPOINT);
      expect(otlp.hostname).toBe('jaeger-collector.monitoring');
      expect(service('jaeger-collector')?.spec.ports).toContainEqual(
        expect.objectContaining({ port: Number(otlp.port) }),
      );
    },
  );

  it('needs no operator (a laptop cluster applies it too); the production overlay scrapes its exporter', () => {
    const groups = new Set(monitoring.map((o) => o.apiVersion.split('/')[0]));
    expect([...groups].sort()).toEqual(['apps', 'v1']);
    const scrape = production.find(
      (o) => o.kind === 'ServiceMonitor' && o.metadata.name === 'statsd-exporter',
    );
    expect(scrape?.spec.namespaceSelector).toEqual({ matchNames: ['monitoring'] });
    const exporter = monitoring.find((o) => o.kind === 'Service' && o.metadata.name === 'statsd-exporter');
    expect(matchesLabels(scrape?.spec.selector.matchLabels, exporter?.metadata.labels)).toBe(true);
    expect(exporter?.spec.ports.map((p: { name: string }) => p.name)).toContain(
      scrape?.spec.endpoints[0].port,
    );
  });

  it("runs with compose's files: statsd/mapping.yml and docker/jaeger/config.yaml", () => {
    const configMap = (name: string) =>
      monitoring.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
    expect(configMap('statsd-mapping')?.data['mapping.yml']).toBe(readRepoFile('statsd', 'mapping.yml'));
    expect(configMap('jaeger-config')?.data['config.yaml']).toBe(
      readRepoFile('docker', 'jaeger', 'config.yaml'),
    );
    const deployment = (name: string) =>
      monitoring.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
    expect(deployment('jaeger')?.spec.template.spec.containers[0].args).toEqual([
      '--config',
      '/etc/jaeger/config.yaml',
    ]);
    expect(deployment('statsd-exporter')?.spec.template.spec.containers[0].args).toContain(
      '--statsd.mapping-config=/etc/statsd/mapping.yml',
    );
    // the same image as compose
    const compose = readYaml('docker-compose.yml') as { services: Record<string, { image?: string }> };
    expect(deployment('jaeger')?.spec.template.spec.containers[0].image).toBe(compose.services.jaeger?.image);
    expect(deployment('statsd-exporter')?.spec.template.spec.containers[0].image).toBe(
      compose.services['statsd-exporter']?.image,
    );
  });
});
