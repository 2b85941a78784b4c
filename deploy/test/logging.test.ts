import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type K8sObject, kustomize, mebibytes, modelOf, readRepoFile, readYaml } from './repo.ts';

type ComposeService = {
  image?: string;
  environment?: Record<string, string>;
  deploy?: { resources?: { limits?: { memory?: string } } };
};
const compose = readYaml('docker-compose.yml') as { services: Record<string, ComposeService> };

let objects: K8sObject[] = [];
const find = (kind: string, name: string) => {
  const found = objects.find(
    (o) => o.kind === kind && (o.metadata.name === name || o.metadata.name.startsWith(`${name}-`)),
  );
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
const containerOf = (kind: string, name: string) => find(kind, name).spec.template.spec.containers[0];

beforeAll(async () => {
  objects = await kustomize('k8s/logging');
}, 120_000);

describe("k8s/logging: the services' logs in a cluster, as compose ships them", () => {
  it('follows the Kubernetes schemas, all in namespace logging', async () => {
    expect(objects.length).toBeGreaterThanOrEqual(15);
    for (const object of objects) {
      const Model = await modelOf(object);
      expect(() => new Model(object).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(object.kind))
        expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe('logging');
    }
  });

  it("runs compose's images with compose's memory (Elastic's operator defaults)", () => {
    for (const [kind, name] of [
      ['StatefulSet', 'elasticsearch'],
      ['Deployment', 'logstash'],
      ['Deployment', 'kibana'],
      ['DaemonSet', 'filebeat'],
    ] as const) {
      const container = containerOf(kind, name);
      const service = compose.services[name];
      expect(container.image, name).toBe(service?.image);
      expect(mebibytes(container.resources.limits.memory), name).toBe(
        mebibytes(service?.deploy?.resources?.limits?.memory ?? '0'),
      );
    }
  });

  it("reads the simplebank namespace's container logs on every node, decodes each JSON line, keeps only the services' lines", () => {
    const config = parse(find('ConfigMap', 'filebeat-config').data['filebeat.yml']);
    const [input] = config['filebeat.inputs'];
    expect(input.paths).toEqual(['/var/log/containers/*_simplebank_*.log']);
    expect(input.parsers).toEqual([
      { container: null },
      { ndjson: { target: '', overwrite_keys: true, ignore_decoding_error: true } },
    ]);
    // the same filter and host handling as compose's Filebeat
    const docker = parse(readRepoFile('docker/filebeat/filebeat.yml'));
    const drop = (c: { processors: { drop_event?: unknown }[] }) => c.processors.find((p) => p.drop_event);
    expect(drop(config)).toEqual(drop(docker));
    expect(config['publisher_pipeline.disable_host']).toBe(true);
    // to Logstash's beats port, where the Service publishes it
    const [host, port] = String(config['output.logstash'].hosts[0]).split(':');
    const logstash = find('Service', host as string);
    expect(logstash.spec.ports).toContainEqual(expect.objectContaining({ port: Number(port) }));
    expect(readRepoFile('logstash/pipeline/simplebank.conf')).toMatch(
      new RegExp(`beats \\{\\s*port => ${port}`),
    );

    // every node, the kubelet's files, and what add_kubernetes_metadata reads
    const daemon = find('DaemonSet', 'filebeat');
    const mounts = containerOf('DaemonSet', 'filebeat').volumeMounts.map(
      (m: { mountPath: string }) => m.mountPath,
    );
    expect(mounts).toEqual(expect.arrayContaining(['/var/log/containers', '/var/log/pods']));
    const role = find('ClusterRole', 'simplebank-filebeat');
    expect(role.rules[0]).toEqual({
      apiGroups: [''],
      resources: ['pods', 'namespaces', 'nodes'],
      verbs: ['get', 'list', 'watch'],
    });
    const binding = find('ClusterRoleBinding', 'simplebank-filebeat');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: daemon.spec.template.spec.serviceAccountName, namespace: 'logging' },
    ]);
  });

  it("feeds Logstash the repository's pipeline and template, into the Elasticsearch the pipeline names", () => {
    expect(find('ConfigMap', 'logstash-pipeline').data['simplebank.conf']).toBe(
      readRepoFile('logstash/pipeline/simplebank.conf'),
    );
    expect(find('ConfigMap', 'logstash-templates').data['simplebank.json']).toBe(
      readRepoFile('logstash/templates/simplebank.json'),
    );
    const [, host, port] = /hosts => \["http:\/\/([a-z-]+):(\d+)"\]/.exec(
      readRepoFile('logstash/pipeline/simplebank.conf'),
    ) as unknown as [string, string, string];
    expect(find('Service', host).spec.ports).toContainEqual(expect.objectContaining({ port: Number(port) }));
    const kibana = Object.fromEntries(
      containerOf('Deployment', 'kibana').env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    expect(kibana.ELASTICSEARCH_HOSTS).toBe(compose.services.kibana?.environment?.ELASTICSEARCH_HOSTS);
  });

  it("imports Kibana's saved objects once Kibana answers, as compose's kibana-setup does", () => {
    expect(find('ConfigMap', 'kibana-saved-objects').data['saved-objects.ndjson']).toBe(
      readRepoFile('kibana/saved-objects.ndjson'),
    );
    const job = find('Job', 'kibana-setup');
    const command: string[] = job.spec.template.spec.containers[0].command;
    expect(command).toContain('http://kibana:5601/api/saved_objects/_import?overwrite=true');
    expect(command).toContain('--retry-all-errors');
    expect(command.at(-1)).toBe('file=@/setup/saved-objects.ndjson');
    expect(job.spec.template.spec.volumes).toContainEqual({
      name: 'setup',
      configMap: { name: find('ConfigMap', 'kibana-saved-objects').metadata.name },
    });
  });
});
