import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { OPS_PORT_OFFSET } from '@simplebank/chassis';
import { brokerServices } from '@simplebank/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFINITIONS, productionBrokerUsers } from '../broker-definitions.ts';
import {
  type K8sObject,
  kustomize,
  modelOf,
  OVERLAYS,
  readRepoFile,
  readYaml,
  repoPath,
  SERVICES,
} from './repo.ts';

const withUnwrappedData = (secret: K8sObject): K8sObject => ({
  ...secret,
  data: Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, String(v).replaceAll('\n', '')]),
  ),
});

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

/**
 * Where a service's operations routes are in Kubernetes, and with them an internal service's
 * administrative ones (chassis service.ts): the gateway's 9080 (libs/stack), every other's port + 1000.
 */
const k8sOpsPort = (service: (typeof SERVICES)[number]) =>
  'opsPort' in service ? service.opsPort : service.port + OPS_PORT_OFFSET;

/** Where the Gateway API implementation (Envoy Gateway) runs the proxies that reach the gateway. */
const GATEWAY_PROXIES = 'envoy-gateway-system';

/** The label of operators' pods, which alone with Prometheus reach the operations ports. */
const OPERATOR_LABEL = 'simplebank.io/operator';
const OPERATOR = { [OPERATOR_LABEL]: 'true' };

/** What each service talks to, read from the code: the network policies must allow exactly this. */
function usesOf(name: string, config: Record<string, string>): string[] {
  const dir = repoPath('services', name, 'src');
  const source = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(`${dir}/${f}`, 'utf8'))
    .join('\n');
  const uses = new Set<string>();
  if (!/broker: false/.test(source)) uses.add('rabbitmq');
  if (existsSync(repoPath('services', name, 'migrations'))) uses.add('postgres');
  if (source.includes('REDIS_URL')) uses.add('redis');
  for (const [variable, value] of Object.entries(config))
    if (
      variable.endsWith('_URL') &&
      value.startsWith('http://') &&
      new RegExp(`\\b${variable}\\b`).test(source)
    )
      uses.add(new URL(value).hostname);
  return [...uses].sort();
}

describe.each(OVERLAYS)('k8s/overlays/%s', (overlay) => {
  let objects: K8sObject[] = [];
  const all = (kind: string) => objects.filter((o) => o.kind === kind);
  const one = (kind: string, name: string) => {
    // generated ConfigMaps and Secrets carry a hash of their content after their name
    const found =
      objects.find((o) => o.kind === kind && o.metadata.name === name) ??
      objects.find((o) => o.kind === kind && new RegExp(`^${name}-[a-z0-9]{10}$`).test(o.metadata.name));
    if (!found) throw new Error(`no ${kind} ${name}`);
    return found;
  };
  const deployments = () => all('Deployment').filter((d) => d.metadata.labels?.['app.kubernetes.io/part-of']);
  const podsOf = (app: string) =>
    all('Deployment').filter((d) => d.spec.template.metadata.labels.app === app);

  beforeAll(async () => {
    objects = await kustomize(`k8s/overlays/${overlay}`);
  }, 120_000);

  it('renders, and every object is valid against the Kubernetes schemas', async () => {
    expect(objects.length).toBeGreaterThan(40);
    // the Messaging Topology Operator's resources (User, Permission) have no published schema here:
    // the broker users' test below checks them against what the contracts make
    const topology = ['User', 'Permission', 'TopicPermission'];
    for (const object of objects.filter(
      (o) => !(o.apiVersion.startsWith('rabbitmq.com/') && topology.includes(o.kind)),
    )) {
      const Model = await modelOf(object);
      // kustomize wraps long base64 values at 76 columns; the API server's decoder skips the line
      // breaks, the schema's `byte` format does not
      const checked = object.kind === 'Secret' ? withUnwrappedData(object) : object;
      expect(() => new Model(checked).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
    }
    // the validation is real: a wrong type is refused
    const Model = await modelOf(one('Deployment', 'orders'));
    const broken = structuredClone(one('Deployment', 'orders'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eighty-one';
    expect(() => new Model(broken).validate()).toThrow(/containerPort/);
    if (overlay === 'production') {
      // …and so is the operators': a misspelt field of a RabbitmqCluster, a wrong type in a Cluster
      const rabbit = structuredClone(one('RabbitmqCluster', 'rabbitmq'));
      rabbit.spec.replica = 3;
      const RabbitModel = await modelOf(rabbit);
      expect(() => new RabbitModel(rabbit).validate()).toThrow(/additional properties/);
      const postgres = structuredClone(one('Cluster', 'postgres'));
      postgres.spec.instances = 'three';
      const PostgresModel = await modelOf(postgres);
      expect(() => new PostgresModel(postgres).validate()).toThrow(/instances/);
    }
  });

  it('puts everything in the simplebank namespace, under Pod Security "restricted"', () => {
    for (const object of objects.filter((o) => o.kind !== 'Namespace'))
      expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe('simplebank');
    expect(one('Namespace', 'simplebank').metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe(
      'restricted',
    );
  });

  it.each(SERVICES)(
    '$name: Deployment, Service, PodDisruptionBudget and HorizontalPodAutoscaler',
    (service) => {
      const { name, port } = service;
      // health, metrics and the administrative routes are on a port of their own (OPS_PORT)
      const opsPort = k8sOpsPort(service);
      const deployment = one('Deployment', name);
      const pod = deployment.spec.template;
      expect(deployment.spec.selector.matchLabels).toEqual({ app: name, track: 'stable' });
      expect(matches(deployment.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
      const [container] = pod.spec.containers;
      expect(container.ports).toEqual([
        { name: 'http', containerPort: port },
        { name: 'ops', containerPort: opsPort },
      ]);
      expect(container.env).toContainEqual({ name: 'PORT', value: String(port) });
      expect(container.env).toContainEqual({ name: 'OPS_PORT', value: String(opsPort) });
      expect(container.image).toMatch(new RegExp(`(^|/)${name}:[\\w.-]+$`));

      expect(matches(one('Service', name).spec.selector, pod.metadata.labels)).toBe(true);
      expect(one('Service', name).spec.ports).toEqual([
        { name: 'http', port, targetPort: 'http' },
        { name: 'ops', port: opsPort, targetPort: 'ops' },
      ]);

      const pdb = one('PodDisruptionBudget', name);
      expect(matches(pdb.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
      // a budget a single replica can meet: drains are not blocked for good
      if (deployment.spec.replicas === 1) expect(pdb.spec.maxUnavailable ?? 0).toBeGreaterThanOrEqual(1);

      const hpa = one('HorizontalPodAutoscaler', name);
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(deployment.spec.replicas);

      // Prometheus finds its /metrics (annotation scrape)
      expect(pod.metadata.annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(opsPort),
        'prometheus.io/path': '/metrics',
      });
    },
  );

  it('probes every SimpleBank container on the chassis health endpoints', () => {
    expect(deployments().length).toBe(SERVICES.length + 1);
    for (const deployment of deployments()) {
      for (const container of deployment.spec.template.spec.containers) {
        const what = `${deployment.metadata.name}/${container.name}`;
        // where the chassis serves them: every service's operations port (OPS_PORT)
        const port = 'ops';
        expect(
          container.ports.map((p: { name: string }) => p.name),
          what,
        ).toContain(port);
        expect(container.startupProbe?.httpGet, what).toEqual({ path: '/health/live', port });
        expect(container.readinessProbe?.httpGet, what).toEqual({ path: '/health/ready', port });
        expect(container.livenessProbe?.httpGet, what).toEqual({ path: '/health/live', port });
        // the startup probe leaves time for migrations: a minute at least before liveness takes over
        const { periodSeconds = 10, failureThreshold = 3 } = container.startupProbe;
        expect(periodSeconds * failureThreshold, what).toBeGreaterThanOrEqual(60);
      }
    }
  });

  it('gives every container resource requests and limits', () => {
    const workloads = [...all('Deployment'), ...all('StatefulSet')];
    expect(workloads.length).toBeGreaterThanOrEqual(SERVICES.length + 1);
    for (const workload of workloads) {
      for (const container of workload.spec.template.spec.containers) {
        const what = `${workload.metadata.name}/${container.name}`;
        expect(Object.keys(container.resources?.requests ?? {}).sort(), what).toEqual(['cpu', 'memory']);
        expect(container.resources?.limits?.memory, what).toBeDefined();
        expect(container.resources?.limits?.cpu, what).toBeDefined();
      }
    }
  });

  it('runs every container as non-root, with a read-only root, no capabilities, no escalation', () => {
    for (const workload of [...all('Deployment'), ...all('StatefulSet')]) {
      const pod = workload.spec.template.spec;
      expect(pod.automountServiceAccountToken, workload.metadata.name).toBe(false);
      for (const container of pod.containers) {
        const what = `${workload.metadata.name}/${container.name}`;
        const security = container.securityContext ?? {};
        expect(security.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, what).toBe(true);
        expect(security.runAsUser ?? pod.securityContext?.runAsUser, what).toBeGreaterThan(0);
        expect(security.allowPrivilegeEscalation, what).toBe(false);
        expect(security.capabilities?.drop, what).toEqual(['ALL']);
        expect(security.capabilities?.add, what).toBeUndefined();
        expect((security.seccompProfile ?? pod.securityContext?.seccompProfile)?.type, what).toBe(
          'RuntimeDefault',
        );
        // PostgreSQL and RabbitMQ (local overlay only) write beside their data; the services never
        if (workload.kind === 'Deployment') expect(security.readOnlyRootFilesystem, what).toBe(true);
      }
    }
  });

  it('runs a canary of the gateway in the manner of chapter 9: one Service, weights by replicas', () => {
    const canaries = all('Deployment').filter((d) => d.spec.template.metadata.labels.track === 'canary');
    expect(canaries.map((d) => d.metadata.name)).toEqual(['gateway-canary']);
    const canary = one('Deployment', 'gateway-canary');
    const stable = one('Deployment', 'gateway');
    const service = one('Service', 'gateway');
    // the Service sends requests to both…
    expect(matches(service.spec.selector, canary.spec.template.metadata.labels)).toBe(true);
    expect(matches(service.spec.selector, stable.spec.template.metadata.labels)).toBe(true);
    expect(service.spec.selector).not.toHaveProperty('track');
    // …while neither Deployment adopts the other's pods
    expect(matches(canary.spec.selector.matchLabels, stable.spec.template.metadata.labels)).toBe(false);
    expect(matches(stable.spec.selector.matchLabels, canary.spec.template.metadata.labels)).toBe(false);
    // it takes traffic: replicas, ready (same probes), allowed by the same network policy
    expect(canary.spec.replicas).toBeGreaterThanOrEqual(1);
    expect(canary.spec.replicas).toBeLessThanOrEqual(stable.spec.replicas);
    const policy = one('NetworkPolicy', 'gateway');
    expect(matches(policy.spec.podSelector.matchLabels, canary.spec.template.metadata.labels)).toBe(true);
    // the same pod otherwise (image at rest, env, probes, security): only `track` differs
    const withoutTrack = (d: K8sObject) => {
      const template = structuredClone(d.spec.template);
      delete template.metadata.labels.track;
      return template;
    };
    expect(withoutTrack(canary)).toEqual(withoutTrack(stable));
    // the autoscaler scales the stable pods only, so the canary's share stays what it was set to
    expect(all('HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name)).not.toContain(
      'gateway-canary',
    );
  });

  it('denies all traffic by default and lets every pod resolve names', () => {
    const deny = all('NetworkPolicy').find(
      (p) => Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress && !p.spec.egress,
    );
    expect(deny?.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    expect(deny?.spec.egress).toBeUndefined();
    const dns = all('NetworkPolicy').find((p) =>
      p.spec.egress?.some((rule: { ports?: { port: number }[] }) => rule.ports?.some((q) => q.port === 53)),
    );
    expect(dns?.spec.podSelector).toEqual({});
  });

  it('lets only the gateway be reached from outside, and each service reach only what it uses', () => {
    const config = one('ConfigMap', 'simplebank-config').data;
    const policies = all('NetworkPolicy');
    const policyOf = (app: string) => policies.filter((p) => p.spec.podSelector.matchLabels?.app === app);
    type Rule = { from?: Peer[]; to?: Peer[]; ports?: { port: number }[] };
    type Peer = {
      podSelector?: { matchLabels?: Record<string, string> };
      namespaceSelector?: { matchLabels?: Record<string, string> };
    };
    const namespaces = (rules: Rule[] = [], side: 'from' | 'to') =>
      rules
        .flatMap((r) => r[side] ?? [])
        .flatMap((peer) =>
          peer.namespaceSelector ? [peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name']] : [],
        );
    const apps = (rules: Rule[] = [], side: 'from' | 'to') =>
      rules
        .flatMap((r) => r[side] ?? [])
        .flatMap((peer) =>
          peer.podSelector?.matchLabels?.app && !peer.namespaceSelector
            ? [peer.podSelector.matchLabels.app]
            : [],
        );
    const prometheus = (rule: Rule) =>
      (rule.from ?? []).some(
        (peer) =>
          peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring' &&
          peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'prometheus',
      );
    const operators = (rule: Rule) =>
      (rule.from ?? []).some(
        (peer) => !peer.namespaceSelector && peer.podSelector?.matchLabels?.[OPERATOR_LABEL],
      );

    for (const service of SERVICES) {
      const { name, port } = service;
      const opsPort = k8sOpsPort(service);
      const [policy, ...others] = policyOf(name);
      expect(others, name).toEqual([]);
      expect(policy?.spec.policyTypes.sort(), name).toEqual(['Egress', 'Ingress']);
      // from outside the namespace: the Gateway API proxies to the gateway, the monitoring stack
      const outside = namespaces(policy?.spec.ingress, 'from');
      expect(outside.includes(GATEWAY_PROXIES), name).toBe(name === 'gateway');
      expect(
        outside.filter((n) => n !== GATEWAY_PROXIES && n !== 'monitoring'),
        name,
      ).toEqual([]);
      // callers and the Gateway API proxies to the service's port, Prometheus and (but the gateway's,
      // which has no administrative routes) operators' pods to its operations port
      for (const rule of policy?.spec.ingress ?? [])
        expect(
          rule.ports.map((p: { port: number }) => p.port),
          name,
        ).toEqual([prometheus(rule) || operators(rule) ? opsPort : port]);
      expect(
        (policy?.spec.ingress ?? []).some((rule: Rule) => operators(rule)),
        name,
      ).toBe(name !== 'gateway');
      // nothing open to every address
      for (const rule of [...(policy?.spec.ingress ?? []), ...(policy?.spec.egress ?? [])])
        expect(rule.from ?? rule.to, name).toBeDefined();
      // out: exactly what its code uses
      const uses = usesOf(name, config);
      expect([...new Set(apps(policy?.spec.egress, 'to'))].sort(), name).toEqual(uses);
      // in: exactly the services that use it
      const callers = SERVICES.filter((s) => usesOf(s.name, config).includes(name)).map((s) => s.name);
      expect([...new Set(apps(policy?.spec.ingress, 'from'))].sort(), name).toEqual(callers.sort());
    }
    // the gateway talks to the four services it queries, the market to the exchange
    expect(usesOf('gateway', config)).toEqual([
      'account-transactions',
      'fees',
      'market',
      'orders',
      'rabbitmq',
      'redis',
    ]);
    expect(usesOf('market', config)).toEqual(['postgres', 'rabbitmq', 'stock-exchange']);
    // the exchange keeps its book in its own database and takes no messages
    expect(usesOf('stock-exchange', config)).toEqual(['postgres']);
  });

  it("lets neither the gateway nor the Gateway API proxies reach any service's operations port, where its administrative routes are", () => {
    type Selector = { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    type Peer = { podSelector?: Selector; namespaceSelector?: Selector; ipBlock?: unknown };
    type Rule = { from?: Peer[]; to?: Peer[]; ports?: { port?: number | string; endPort?: number }[] };
    /** Who sends: the labels of its namespace and of its pod (null: any pod of that namespace). */
    type Sender = { namespace: Record<string, string>; pod: Record<string, string> | null };
    const NAMESPACE = { 'kubernetes.io/metadata.name': 'simplebank' };
    // an expression, or an unknown pod, counts as selected: the check errs towards "reachable"
    const selects = (selector: Selector, labels: Record<string, string> | null) =>
      labels === null ||
      (selector.matchExpressions?.length ?? 0) > 0 ||
      matches(selector.matchLabels ?? {}, labels);
    const admits = (peers: Peer[] | undefined, sender: Sender) =>
      peers === undefined ||
      peers.length === 0 ||
      peers.some(
        (peer) =>
          peer.ipBlock !== undefined ||
          ((peer.namespaceSelector
            ? selects(peer.namespaceSelector, sender.namespace)
            : matches(NAMESPACE, sender.namespace)) &&
            (peer.podSelector === undefined || selects(peer.podSelector, sender.pod))),
      );
    const opens = (rule: Rule, port: number, named: Record<string, number>) =>
      !rule.ports?.length ||
      rule.ports.some(({ port: p, endPort }) => {
        const number = typeof p === 'string' ? named[p] : p;
        return (
          number === undefined ||
          (endPort === undefined ? number === port : number <= port && port <= endPort)
        );
      });
    const policies = all('NetworkPolicy');
    /** Whether the policies let `sender` reach `port` of the pods of Deployment `name`. */
    const reaches = (sender: Sender, name: string, port: number) => {
      const pod = one('Deployment', name).spec.template;
      const named = Object.fromEntries(
        pod.spec.containers.flatMap((c: { ports?: { name?: string; containerPort: number }[] }) =>
          (c.ports ?? []).map((p) => [p.name, p.containerPort]),
        ),
      );
      return policies.some(
        (policy) =>
          policy.spec.policyTypes.includes('Ingress') &&
          selects(policy.spec.podSelector, pod.metadata.labels) &&
          (policy.spec.ingress ?? []).some(
            (rule: Rule) => admits(rule.from, sender) && opens(rule, port, named),
          ),
      );
    };
    /** Whether the gateway's own policies let it send to `port` of the pods of Deployment `name`. */
    const gatewaySends = (name: string, port: number) => {
      const labels = one('Deployment', name).spec.template.metadata.labels;
      return policies.some(
        (policy) =>
          policy.spec.policyTypes.includes('Egress') &&
          gatewayPods.some((gateway) => selects(policy.spec.podSelector, gateway.pod)) &&
          (policy.spec.egress ?? []).some(
            (rule: Rule) => admits(rule.to, { namespace: NAMESPACE, pod: labels }) && opens(rule, port, {}),
          ),
      );
    };
    const gatewayPods: Sender[] = podsOf('gateway').map((d) => ({
      namespace: NAMESPACE,
      pod: d.spec.template.metadata.labels,
    }));
    expect(gatewayPods.length).toBeGreaterThanOrEqual(1);
    const gatewayProxies: Sender = {
      namespace: { 'kubernetes.io/metadata.name': GATEWAY_PROXIES },
      pod: null,
    };
    const prometheus: Sender = {
      namespace: { 'kubernetes.io/metadata.name': 'monitoring' },
      pod: { 'app.kubernetes.io/name': 'prometheus' },
    };
    const operator: Sender = { namespace: NAMESPACE, pod: { ...OPERATOR, run: 'seed' } };

    // where the chassis serves each service's administrative routes: OPS_PORT, set for every one
    const opsPortOf = (service: (typeof SERVICES)[number]) => {
      const env: { name: string; value?: string }[] = one('Deployment', service.name).spec.template.spec
        .containers[0].env;
      const value = (variable: string) => env.find((e) => e.name === variable)?.value;
      return Number(value('OPS_PORT') ?? value('PORT') ?? service.port);
    };
    const open: string[] = [];
    for (const service of SERVICES) {
      const { name } = service;
      const opsPort = opsPortOf(service);
      if (name !== 'gateway') {
        if (gatewayPods.some((gateway) => reaches(gateway, name, opsPort)))
          open.push(`gateway → ${name}:${opsPort}`);
        if (gatewaySends(name, opsPort)) open.push(`gateway sends to ${name}:${opsPort}`);
      }
      if (reaches(gatewayProxies, name, opsPort)) open.push(`${GATEWAY_PROXIES} → ${name}:${opsPort}`);
    }
    expect(open).toEqual([]);
    for (const service of SERVICES) {
      const { name, port } = service;
      const opsPort = opsPortOf(service);
      expect(opsPort, name).toBe(k8sOpsPort(service));
      expect(opsPort, name).not.toBe(port);
      // the check is real: Prometheus scrapes there, and operators' pods reach the internal services
      expect(reaches(prometheus, name, opsPort), `prometheus → ${name}:${opsPort}`).toBe(true);
      expect(reaches(operator, name, opsPort), `operator → ${name}:${opsPort}`).toBe(name !== 'gateway');
      expect(reaches(operator, name, port), `operator → ${name}:${port}`).toBe(false);
    }
    // …and the gateway does reach the services' own ports, which it calls
    for (const name of ['orders', 'account-transactions', 'fees', 'market']) {
      const { port } = SERVICES.find((s) => s.name === name) as (typeof SERVICES)[number];
      expect(reaches(gatewayPods[0] as Sender, name, port), name).toBe(true);
      expect(gatewaySends(name, port), name).toBe(true);
    }
    // operators' pods send to the operations ports only
    const [operators, ...more] = policies.filter((p) => p.spec.podSelector.matchLabels?.[OPERATOR_LABEL]);
    expect(more).toEqual([]);
    expect(operators?.spec.policyTypes).toEqual(['Egress']);
    const sorted = (pairs: [unknown, unknown][]) => pairs.map((p) => JSON.stringify(p)).sort();
    expect(
      sorted(
        operators?.spec.egress.map((rule: Rule) => [
          rule.to?.map((peer) => peer.podSelector?.matchLabels?.app),
          rule.ports?.map((p) => p.port),
        ]),
      ),
    ).toEqual(sorted(SERVICES.filter((s) => s.name !== 'gateway').map((s) => [[s.name], [k8sOpsPort(s)]])));
  });

  it('rolls each service over without a gap, but replaces the exchange simulator (Recreate)', () => {
    for (const { name } of SERVICES.filter((s) => s.name !== 'stock-exchange')) {
      const { strategy } = one('Deployment', name).spec;
      expect(strategy, name).toEqual({
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
      });
    }
    // two simulators must never run at once, each taking orders and filling them at its own
    // prices: not during a rollout (a rolling update starts the new pod beside the old one)…
    const exchange = one('Deployment', 'stock-exchange');
    expect(exchange.spec.strategy).toEqual({ type: 'Recreate' });
    // …nor ever else: one replica, which the autoscaler keeps
    expect(exchange.spec.replicas).toBe(1);
    const hpa = one('HorizontalPodAutoscaler', 'stock-exchange');
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([1, 1]);
  });

  it('gives each service that keeps data a DATABASE_URL from its own Secret', () => {
    // generated Secrets carry a hash of their content after their name
    const unhashed = (name: string) => name.replace(/-[a-z0-9]{10}$/, '');
    const keys = new Map<string, string[]>([
      ...all('Secret').map((s): [string, string[]] => [unhashed(s.metadata.name), Object.keys(s.data ?? {})]),
      ...all('ExternalSecret').map((s): [string, string[]] => [
        s.spec.target.name,
        s.spec.data.map((d: { secretKey: string }) => d.secretKey),
      ]),
    ]);
    const databases = SERVICES.filter(({ name }) => existsSync(repoPath('services', name, 'migrations')));
    expect(databases.map((s) => s.name).sort()).toEqual(
      ['account-transactions', 'fees', 'market', 'orders', 'stock-exchange'].sort(),
    );
    for (const { name } of SERVICES) {
      const secret = `${name}-secrets`;
      const [container] = one('Deployment', name).spec.template.spec.containers;
      const reads = (container.envFrom ?? []).flatMap((from: { secretRef?: { name: string } }) =>
        from.secretRef ? [unhashed(from.secretRef.name)] : [],
      );
      if (databases.some((s) => s.name === name)) {
        expect(reads, name).toEqual([secret]);
        expect(keys.get(secret), name).toContain('DATABASE_URL');
      } else {
        expect(keys.get(secret) ?? [], name).not.toContain('DATABASE_URL');
      }
    }
  });

  it('connects each service that uses the broker as its own user, and gives the admin credential to the internal services only', () => {
    const unhashed = (name: string) => name.replace(/-[a-z0-9]{10}$/, '');
    const keysOf = (secret: string): string[] =>
      overlay === 'local'
        ? Object.keys(all('Secret').find((s) => unhashed(s.metadata.name) === secret)?.data ?? {})
        : (all('ExternalSecret')
            .find((s) => s.spec.target.name === secret)
            ?.spec.data.map((d: { secretKey: string }) => d.secretKey) ?? []);
    for (const { name } of SERVICES) {
      expect(keysOf(`${name}-secrets`).includes('AMQP_URL'), name).toBe(brokerServices.includes(name));
      expect(keysOf(`${name}-secrets`).includes('ADMIN_TOKEN'), name).toBe(
        !['gateway', 'alerts'].includes(name),
      );
    }
    if (overlay === 'local') {
      // the same users as compose, made by the same definitions file
      const compose = readYaml('docker-compose.yml') as {
        services: Record<string, { environment?: Record<string, string> }>;
      };
      for (const name of brokerServices) {
        const secret = all('Secret').find((s) => unhashed(s.metadata.name) === `${name}-secrets`);
        const amqpUrl = Buffer.from(String(secret?.data.AMQP_URL).replaceAll('\n', ''), 'base64').toString();
        const [mine, composes] = [
          new URL(amqpUrl),
          new URL(compose.services[name]?.environment?.AMQP_URL ?? ''),
        ];
        expect([mine.username, mine.password], name).toEqual([composes.username, composes.password]);
      }
      expect(one('ConfigMap', 'rabbitmq-config').data['definitions.json']).toBe(readRepoFile(DEFINITIONS));
    } else {
      // the Messaging Topology Operator makes each user with exactly the contracts' permissions
      const rabbit = objects
        .filter((o) => o.apiVersion.startsWith('rabbitmq.com/') && o.kind !== 'RabbitmqCluster')
        .map(({ metadata: { namespace: _, ...metadata }, ...o }) => ({ ...o, metadata }));
      // in any order: kustomize sorts its output by kind
      const byKindAndName = (a: K8sObject, b: K8sObject) =>
        `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);
      expect(rabbit.sort(byKindAndName)).toEqual(productionBrokerUsers().sort(byKindAndName));
      for (const user of all('User')) {
        const secret = user.spec.importCredentialsSecret.name;
        expect(keysOf(secret).sort(), secret).toEqual(['password', 'username']);
      }
    }
  });

  it('sends outside traffic to the gateway only, through a Gateway API route, and only to its public paths', () => {
    expect(all('Ingress')).toEqual([]);
    const [gateway, ...moreGateways] = all('Gateway');
    expect(moreGateways).toEqual([]);
    expect(gateway?.spec.gatewayClassName).toBe('eg');
    const [route, ...moreRoutes] = all('HTTPRoute');
    expect(moreRoutes).toEqual([]);
    expect(route?.spec.parentRefs).toEqual([{ name: gateway?.metadata.name }]);
    // the route's host is one its Gateway listens for
    const hosts = gateway?.spec.listeners.map((l: { hostname: string }) => l.hostname);
    for (const host of route?.spec.hostnames ?? []) expect(hosts).toContain(host);
    type Match = { path: { type: 'Exact' | 'PathPrefix'; value: string } };
    type Rule = { matches: Match[]; backendRefs: { name: string; port: number }[] };
    const rules: Rule[] = route?.spec.rules ?? [];
    const gatewayPort = SERVICES.find((s) => s.name === 'gateway')?.port;
    for (const { backendRefs } of rules)
      expect(backendRefs).toEqual([{ name: 'gateway', port: gatewayPort }]);
    // Gateway API's matching: Exact is the whole path, PathPrefix whole segments
    const routed = (url: string) =>
      rules
        .flatMap((r) => r.matches)
        .some(({ path: { type, value } }) =>
          type === 'Exact' ? url === value : url === value || url.startsWith(`${value.replace(/\/$/, '')}/`),
        );
    for (const url of ['/', '/index.html', '/assets/index-abc.js', '/screen/settings', '/docs', '/docs/json'])
      expect(routed(url), url).toBe(true);
    for (const url of [
      '/auth/token',
      '/shares/sell',
      '/orders/x',
      '/accounts/acc-alice/stream',
      '/market/quotes',
    ])
      expect(routed(url), url).toBe(true);
    expect(routed('/fees/estimate'), '/fees/estimate').toBe(true);
    for (const url of [
      '/health',
      '/health/ready',
      '/metrics',
      '/version',
      '/debug/profile',
      '/admin/faults',
      '/authx',
    ])
      expect(routed(url), url).toBe(false);
    for (const service of all('Service'))
      expect(service.spec.type ?? 'ClusterIP', service.metadata.name).toBe('ClusterIP');
  });

  it('lets the gateway believe X-Forwarded-For from the pod network only, which only the Gateway API proxies and Prometheus reach it from', () => {
    const proxies = String(one('ConfigMap', 'simplebank-config').data.TRUSTED_PROXIES ?? '');
    expect(proxies).not.toBe('');
    for (const entry of proxies.split(',')) {
      const [address = '', prefix = '32'] = entry.trim().split('/');
      expect(isIP(address), entry).toBe(4);
      // a private range, never "everyone"
      expect(Number(prefix), entry).toBeGreaterThanOrEqual(8);
      expect(address, entry).toMatch(/^(10\.|172\.(1[6-9]|2\d|3[01])\.|192\.168\.)/);
    }
    const gatewayPolicy = all('NetworkPolicy').find((p) => p.spec.podSelector.matchLabels?.app === 'gateway');
    const from = (gatewayPolicy?.spec.ingress ?? []).flatMap(
      (rule: { from?: { namespaceSelector?: { matchLabels?: Record<string, string> } }[] }) =>
        rule.from ?? [],
    );
    expect(
      from
        .map(
          (peer: { namespaceSelector?: { matchLabels?: Record<string, string> } }) =>
            peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'],
        )
        .sort(),
    ).toEqual([GATEWAY_PROXIES, 'monitoring'].sort());
  });

  it('has every ConfigMap and Secret the pods read', () => {
    const secrets = new Set([
      ...all('Secret').map((s) => s.metadata.name),
      ...all('ExternalSecret').map((s) => s.spec.target.name),
    ]);
    const configMaps = new Set(all('ConfigMap').map((c) => c.metadata.name));
    for (const workload of [...all('Deployment'), ...all('StatefulSet')]) {
      const pod = workload.spec.template.spec;
      for (const container of pod.containers) {
        for (const from of container.envFrom ?? []) {
          if (from.secretRef) expect(secrets, workload.metadata.name).toContain(from.secretRef.name);
          if (from.configMapRef) expect(configMaps, workload.metadata.name).toContain(from.configMapRef.name);
        }
        for (const { valueFrom } of container.env ?? [])
          if (valueFrom?.secretKeyRef) expect(secrets).toContain(valueFrom.secretKeyRef.name);
      }
      for (const volume of pod.volumes ?? [])
        if (volume.configMap) expect(configMaps, workload.metadata.name).toContain(volume.configMap.name);
    }
  });

  it('is production (no demo customers, no published secret) unless it is the laptop demo', () => {
    const { data } = one('ConfigMap', 'simplebank-config');
    if (overlay === 'local') {
      expect(data).toMatchObject({ NODE_ENV: 'development', DEMO_DATA: 'true' });
    } else {
      expect(data.NODE_ENV).toBe('production');
      expect(data.DEMO_DATA).toBeUndefined();
    }
  });

  it('ships the Grafana dashboards as a ConfigMap of the very JSON files compose mounts', () => {
    const dashboards = one('ConfigMap', 'simplebank-grafana-dashboards');
    expect(dashboards.metadata.labels?.grafana_dashboard).toBe('1');
    const files = readdirSync(repoPath('grafana/dashboards')).filter((f) => f.endsWith('.json'));
    expect(Object.keys(dashboards.data).sort()).toEqual(files.sort());
    for (const file of files) expect(dashboards.data[file]).toBe(readRepoFile('grafana/dashboards', file));
  });

  if (overlay === 'production') {
    it('commits no secret: the Secrets come from the External Secrets Operator', () => {
      expect(all('Secret')).toEqual([]);
      expect(
        all('ExternalSecret')
          .map((s) => s.spec.target.name)
          .sort(),
      ).toEqual(
        [
          ...['account-transactions', 'fees', 'gateway', 'market', 'orders', 'stock-exchange'].map(
            (s) => `${s}-secrets`,
          ),
          ...brokerServices.map((s) => `${s}-broker-user`),
          ...databaseServices().map((s) => `${s}-postgres-user`),
        ].sort(),
      );
      // and every container image comes from the registry, tagged
      for (const d of all('Deployment'))
        expect(d.spec.template.spec.containers[0].image).toMatch(/^ghcr\.io\/simplebank\/[a-z-]+:[\w.-]+$/);
      // scraped by the Prometheus Operator with the canary's track on its samples, every service on
      // its operations port (OPS_PORT), the only one serving /metrics
      const monitor = one('ServiceMonitor', 'simplebank');
      expect(monitor?.spec.podTargetLabels).toContain('track');
      expect(monitor?.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/part-of': 'simplebank' } });
      expect(monitor?.spec.endpoints.map((e: { port: string; path: string }) => [e.port, e.path])).toEqual([
        ['ops', '/metrics'],
      ]);
      for (const { name } of SERVICES)
        expect(
          one('Service', name).spec.ports.map((p: { name: string }) => p.name),
          name,
        ).toContain('ops');
      // HTTPS only, with cert-manager's certificate
      const gateway = one('Gateway', 'simplebank');
      expect(gateway.metadata.annotations?.['cert-manager.io/cluster-issuer']).toBe('letsencrypt');
      expect(gateway.spec.listeners).toMatchObject([
        {
          protocol: 'HTTPS',
          port: 443,
          tls: { mode: 'Terminate', certificateRefs: [{ name: 'gateway-tls' }] },
        },
      ]);
    });

    it('runs RabbitMQ and PostgreSQL through their operators, a database and a role for each service', () => {
      // the cluster the broker users name, its pods labelled as the network policies select them
      const rabbit = one('RabbitmqCluster', 'rabbitmq');
      for (const user of [...all('User'), ...all('Permission')])
        expect(user.spec.rabbitmqClusterReference).toEqual({ name: 'rabbitmq' });
      expect(rabbit.spec.override.statefulSet.spec.template.metadata.labels).toEqual({ app: 'rabbitmq' });
      expect(rabbit.spec.replicas).toBe(3);
      // the image compose and the laptop cluster run
      const compose = readYaml('docker-compose.yml') as { services: Record<string, { image: string }> };
      expect(rabbit.spec.image).toBe(compose.services.rabbitmq?.image);

      const postgres = one('Cluster', 'postgres');
      expect(postgres.spec.inheritedMetadata.labels).toEqual({ app: 'postgres' });
      const roles = postgres.spec.managed.roles as {
        name: string;
        login: boolean;
        passwordSecret: { name: string };
      }[];
      const secrets = new Map(all('ExternalSecret').map((s) => [s.spec.target.name, s]));
      const databases = all('Database');
      expect(databases.map((d) => d.spec.name).sort()).toEqual(
        databaseServices()
          .map((s) => `simplebank_${s.replaceAll('-', '_')}`)
          .sort(),
      );
      for (const service of databaseServices()) {
        const role = service.replaceAll('-', '_');
        // the database and role the chassis expects (DATABASE_PREFIX + the service's name), as the
        // laptop cluster's init script makes them
        expect(databases.find((d) => d.spec.name === `simplebank_${role}`)?.spec, service).toEqual({
          cluster: { name: 'postgres' },
          name: `simplebank_${role}`,
          owner: role,
        });
        const entry = roles.find((r) => r.name === role);
        expect(entry?.login, service).toBe(true);
        // its password from the secret store, as the basic-auth Secret CloudNativePG reads
        const secret = secrets.get(entry?.passwordSecret.name ?? '');
        expect(secret?.spec.target.template, service).toMatchObject({
          type: 'kubernetes.io/basic-auth',
          data: { username: role },
        });
        expect(Object.keys(secret?.spec.target.template.data ?? {}).sort(), service).toEqual([
          'password',
          'username',
        ]);
      }
      expect(roles).toHaveLength(databaseServices().length);

      // who may reach them: the services that use each, their own peers, their operator, Prometheus
      const config = one('ConfigMap', 'simplebank-config').data;
      for (const [name, operator] of [
        ['rabbitmq', 'rabbitmq-system'],
        ['postgres', 'cnpg-system'],
        ['redis', null],
      ] as const) {
        const [policy, ...others] = policies(objects, name);
        expect(others, name).toEqual([]);
        type Peer = {
          podSelector?: { matchLabels?: Record<string, string> };
          namespaceSelector?: { matchLabels?: Record<string, string> };
        };
        const from: Peer[] = (policy?.spec.ingress ?? []).flatMap(
          (rule: { from?: Peer[] }) => rule.from ?? [],
        );
        const apps = from.flatMap((peer) =>
          peer.podSelector?.matchLabels?.app && !peer.namespaceSelector
            ? [peer.podSelector.matchLabels.app]
            : [],
        );
        const users = SERVICES.filter((s) => usesOf(s.name, config).includes(name)).map((s) => s.name);
        expect([...new Set(apps)].filter((app) => app !== name).sort(), name).toEqual(users.sort());
        const namespaces = from.flatMap(
          (peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] ?? [],
        );
        expect(namespaces.sort(), name).toEqual(operator ? [operator, 'monitoring'].sort() : []);
      }
      // RabbitMQ's node totals and per-queue depths, as compose's Prometheus scrapes them
      const monitor = one('PodMonitor', 'rabbitmq');
      expect(monitor.spec.selector).toEqual({ matchLabels: { app: 'rabbitmq' } });
      const scrape = readYaml('prometheus', 'prometheus.yml') as {
        scrape_configs: { metrics_path?: string; params?: Record<string, string[]> }[];
      };
      const detailed = scrape.scrape_configs.find((c) => c.metrics_path === '/metrics/detailed');
      expect(
        monitor.spec.podMetricsEndpoints.map((e: { path: string; params?: unknown }) => [e.path, e.params]),
      ).toEqual([
        ['/metrics', undefined],
        ['/metrics/detailed', detailed?.params],
      ]);
    });
  } else {
    it('runs its own RabbitMQ, PostgreSQL and Redis, with the databases created on first start', () => {
      expect(
        all('StatefulSet')
          .map((s) => s.metadata.name)
          .sort(),
      ).toEqual(['postgres', 'rabbitmq', 'redis']);
      for (const name of ['postgres', 'rabbitmq', 'redis']) {
        expect(one('Service', name)).toBeDefined();
        expect(policies(objects, name), name).toHaveLength(1);
      }
      const init = one('ConfigMap', 'postgres-init');
      expect(init.data['10-service-databases.sh']).toBe(
        readRepoFile('docker/postgres/10-service-databases.sh'),
      );
      // each service's own database and role, the ones the init script creates
      const roles = /SERVICE_DATABASES:=([^}]*)\}/
        .exec(init.data['10-service-databases.sh'])?.[1]
        ?.split(' ');
      const databases = SERVICES.filter(({ name }) => existsSync(repoPath('services', name, 'migrations')));
      expect(roles?.sort()).toEqual(databases.map(({ name }) => name.replaceAll('-', '_')).sort());
      for (const { name: service } of databases) {
        const secret = one('Secret', `${service}-secrets`);
        const url = new URL(Buffer.from(secret.data.DATABASE_URL, 'base64').toString());
        expect(url.pathname).toBe(`/simplebank_${service.replaceAll('-', '_')}`);
        expect(url.username).toBe(service.replaceAll('-', '_'));
        expect(url.hostname).toBe('postgres');
      }
      // who may reach each of them: exactly the services that use it
      const config = one('ConfigMap', 'simplebank-config').data;
      for (const name of ['postgres', 'rabbitmq', 'redis']) {
        const [policy] = policies(objects, name);
        const from = (policy?.spec.ingress ?? [])
          .flatMap(
            (rule: { from?: { podSelector?: { matchLabels?: { app?: string } } }[] }) => rule.from ?? [],
          )
          .flatMap((peer: { podSelector?: { matchLabels?: { app?: string } } }) =>
            peer.podSelector?.matchLabels?.app ? [peer.podSelector.matchLabels.app] : [],
          );
        const users = SERVICES.filter((s) => usesOf(s.name, config).includes(name)).map((s) => s.name);
        expect([...new Set(from)].sort(), name).toEqual(users.sort());
      }
      expect(podsOf('gateway')).toHaveLength(2);
    });
  }
});

/** The services with a database of their own (a migrations directory). */
const databaseServices = () =>
  SERVICES.filter(({ name }) => existsSync(repoPath('services', name, 'migrations'))).map((s) => s.name);

const policies = (objects: K8sObject[], app: string) =>
  objects.filter((o) => o.kind === 'NetworkPolicy' && o.spec.podSelector.matchLabels?.app === app);

describe('k8s/ outside the local overlay', () => {
  it('holds no secret in plain text', () => {
    const files = (dir: string): string[] =>
      readdirSync(repoPath(dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? files(`${dir}/${entry.name}`) : [`${dir}/${entry.name}`],
      );
    const outside = files('k8s').filter((f) => !f.startsWith('k8s/overlays/local/'));
    expect(outside.length).toBeGreaterThan(5);
    for (const file of outside) {
      const text = readRepoFile(file);
      expect(text, file).not.toMatch(/^kind: Secret$|secretGenerator|stringData|password=|_SECRET=/m);
    }
  });
});

describe('k8s/load', () => {
  it('runs k6 with the repository\'s scripts against the production overlay\'s public host, under Pod Security "restricted"', async () => {
    const objects = await kustomize('k8s/load');
    for (const object of objects) {
      const Model = await modelOf(object);
      expect(() => new Model(object).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
    }
    const namespace = objects.find((o) => o.kind === 'Namespace');
    expect(namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const object of objects.filter((o) => o.kind !== 'Namespace'))
      expect(object.metadata.namespace).toBe(namespace?.metadata.name);

    const scripts = objects.find((o) => o.kind === 'ConfigMap');
    for (const [file, text] of Object.entries(scripts?.data ?? {}))
      expect(text, file).toBe(readRepoFile('load/k6', file));
    // every script k6 can be told to run, and what they import
    expect(Object.keys(scripts?.data ?? {}).sort()).toEqual(
      readdirSync(repoPath('load/k6'))
        .filter((f) => f.endsWith('.js'))
        .sort(),
    );

    const job = objects.find((o) => o.kind === 'Job');
    const pod = job?.spec.template.spec;
    const [container] = pod.containers;
    const compose = readYaml('docker-compose.yml') as { services: Record<string, { image: string }> };
    expect(container.image).toBe(compose.services.loadgen?.image);
    const [, script] = container.args;
    expect(Object.keys(scripts?.data ?? {})).toContain(String(script).replace('/scripts/', ''));
    expect(pod.volumes).toContainEqual({ name: 'scripts', configMap: { name: scripts?.metadata.name } });
    // the customers `pnpm seed` wrote, from a Secret the README's recipe creates
    expect(pod.volumes).toContainEqual({ name: 'credentials', secret: { secretName: 'k6-credentials' } });
    expect(readRepoFile('k8s/load/kustomization.yaml')).toContain('create secret generic k6-credentials');
    const env = Object.fromEntries(
      container.env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    const production = await kustomize('k8s/overlays/production');
    const route = production.find((o) => o.kind === 'HTTPRoute');
    expect(env.BASE_URL).toBe(`https://${route?.spec.hostnames[0]}`);
    expect(env.CREDENTIALS).toMatch(/^\/credentials\//);
    expect(job?.spec.backoffLimit).toBe(0);
  }, 120_000);
});
