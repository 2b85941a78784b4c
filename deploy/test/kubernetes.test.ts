import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type K8sObject, kustomize, OVERLAYS, readRepoFile, repoPath, SERVICES } from './repo.ts';

// biome-ignore lint/suspicious/noExplicitAny: a model class of kubernetes-models
type ModelClass = new (data: any) => { validate(): void };

/** The kubernetes-models class of an object's apiVersion and kind (the official OpenAPI schemas). */
async function modelOf({ apiVersion, kind }: K8sObject): Promise<ModelClass> {
  const [group, version] = apiVersion.includes('/')
    ? (apiVersion.split('/') as [string, string])
    : ['', apiVersion];
  const module =
    group === ''
      ? 'kubernetes-models/v1'
      : group === 'external-secrets.io'
        ? `@kubernetes-models/external-secrets/external-secrets.io/${version}`
        : group === 'monitoring.coreos.com'
          ? `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}`
          : `kubernetes-models/${group}/${version}`;
  const exports = (await import(module)) as Record<string, ModelClass>;
  const model = exports[kind];
  if (!model) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return model;
}

const withUnwrappedData = (secret: K8sObject): K8sObject => ({
  ...secret,
  data: Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, String(v).replaceAll('\n', '')]),
  ),
});

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

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
    for (const object of objects) {
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
    ({ name, port }) => {
      const deployment = one('Deployment', name);
      const pod = deployment.spec.template;
      expect(deployment.spec.selector.matchLabels).toEqual({ app: name, track: 'stable' });
      expect(matches(deployment.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
      const [container] = pod.spec.containers;
      expect(container.ports).toEqual([{ name: 'http', containerPort: port }]);
      expect(container.env).toContainEqual({ name: 'PORT', value: String(port) });
      expect(container.image).toMatch(new RegExp(`(^|/)${name}:[\\w.-]+$`));

      const service = one('Service', name);
      expect(matches(service.spec.selector, pod.metadata.labels)).toBe(true);
      expect(service.spec.ports).toEqual([{ name: 'http', port, targetPort: 'http' }]);

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
        'prometheus.io/port': String(port),
        'prometheus.io/path': '/metrics',
      });
    },
  );

  it('probes every SimpleBank container on the chassis health endpoints', () => {
    expect(deployments().length).toBe(SERVICES.length + 1);
    for (const deployment of deployments()) {
      for (const container of deployment.spec.template.spec.containers) {
        const what = `${deployment.metadata.name}/${container.name}`;
        expect(container.startupProbe?.httpGet, what).toEqual({ path: '/health/live', port: 'http' });
        expect(container.readinessProbe?.httpGet, what).toEqual({ path: '/health/ready', port: 'http' });
        expect(container.livenessProbe?.httpGet, what).toEqual({ path: '/health/live', port: 'http' });
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
          peer.podSelector && !peer.namespaceSelector ? [peer.podSelector.matchLabels?.app] : [],
        );

    for (const { name, port } of SERVICES) {
      const [policy, ...others] = policyOf(name);
      expect(others, name).toEqual([]);
      expect(policy?.spec.policyTypes.sort(), name).toEqual(['Egress', 'Ingress']);
      // from outside the namespace: the ingress controller to the gateway, the monitoring stack
      const outside = namespaces(policy?.spec.ingress, 'from');
      expect(outside.includes('ingress-nginx'), name).toBe(name === 'gateway');
      expect(
        outside.filter((n) => n !== 'ingress-nginx' && n !== 'monitoring'),
        name,
      ).toEqual([]);
      for (const rule of policy?.spec.ingress ?? [])
        expect(
          rule.ports.map((p: { port: number }) => p.port),
          name,
        ).toEqual([port]);
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

  it('sends outside traffic to the gateway only, through an Ingress', () => {
    const ingresses = all('Ingress');
    expect(ingresses).toHaveLength(1);
    const backends = ingresses[0]?.spec.rules.flatMap(
      (r: { http: { paths: { backend: { service: { name: string } } }[] } }) =>
        r.http.paths.map((p) => p.backend.service.name),
    );
    expect(backends).toEqual(['gateway']);
    for (const service of all('Service'))
      expect(service.spec.type ?? 'ClusterIP', service.metadata.name).toBe('ClusterIP');
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
        ['account-transactions', 'fees', 'gateway', 'market', 'orders', 'stock-exchange'].map(
          (s) => `${s}-secrets`,
        ),
      );
      // and every container image comes from the registry, tagged
      for (const d of all('Deployment'))
        expect(d.spec.template.spec.containers[0].image).toMatch(/^ghcr\.io\/simplebank\/[a-z-]+:[\w.-]+$/);
      // scraped by the Prometheus Operator with the canary's track on its samples
      expect(one('ServiceMonitor', 'simplebank').spec.podTargetLabels).toContain('track');
      expect(one('Ingress', 'gateway').spec.tls).toHaveLength(1);
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
