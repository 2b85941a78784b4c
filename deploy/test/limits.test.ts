import { describe, expect, it } from 'vitest';
import { type K8sObject, kustomize, mebibytes, OVERLAYS, readRepoFile, readYaml, SERVICES } from './repo.ts';

// Memory limits from measurement, not guesses: deploy/measured-memory.json holds the highest
// resident memory each service reached under `pnpm bench`'s load (BENCH_RECORD_MEMORY=1 raises it),
// and every limit must leave headroom above it, or the first load test ends in OOM kills.

interface Measured {
  services: Record<string, { peakMiB: number; measured: string; commit: string }>;
}
const measured = JSON.parse(readRepoFile('deploy', 'measured-memory.json')) as Measured;

/** A limit at least this much above the measured peak: GC timing and a busier minute vary the peak. */
const HEADROOM = 1.25;
const floorMiB = (service: string) => Math.ceil((measured.services[service]?.peakMiB ?? Infinity) * HEADROOM);

interface ComposeService {
  deploy?: { resources?: { limits?: { memory?: string } } };
  mem_limit?: string;
}
const compose = readYaml('docker-compose.yml') as { services: Record<string, ComposeService> };
const composeLimit = (name: string) => {
  const service = compose.services[name];
  return mebibytes(service?.deploy?.resources?.limits?.memory ?? service?.mem_limit ?? '0M');
};

describe('the measured peaks (deploy/measured-memory.json)', () => {
  it('has a figure for every service, each from a bench run on a named commit', () => {
    for (const { name } of SERVICES) {
      const figure = measured.services[name];
      expect(figure, name).toBeDefined();
      expect(figure?.peakMiB, name).toBeGreaterThan(100); // a Node process with the chassis rests at ~150
      expect(figure?.commit, name).toMatch(/^[0-9a-f]{7,}$/);
    }
  });
});

describe('memory limits are the measured peak plus headroom', () => {
  it.each(SERVICES.map(({ name }) => name))('compose: %s', (name) => {
    expect(composeLimit(name)).toBeGreaterThanOrEqual(floorMiB(name));
  });

  it.each(OVERLAYS)(
    'Kubernetes, the %s overlay: every service container',
    async (overlay) => {
      const objects: K8sObject[] = await kustomize(`k8s/overlays/${overlay}`);
      const names = new Set(SERVICES.map((s) => s.name));
      let checked = 0;
      for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
        for (const container of deployment.spec.template.spec.containers) {
          if (!names.has(container.name)) continue;
          const what = `${deployment.metadata.name}/${container.name}`;
          expect(mebibytes(container.resources.limits.memory), what).toBeGreaterThanOrEqual(
            floorMiB(container.name),
          );
          // production reserves what a pod uses, so a node is never promised memory it lacks
          if (overlay === 'production') {
            expect(mebibytes(container.resources.requests.memory), what).toBeGreaterThanOrEqual(
              measured.services[container.name]?.peakMiB ?? Infinity,
            );
          }
          checked += 1;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(SERVICES.length);
    },
    60_000,
  );
});

describe('the observability stack has the memory its makers document', () => {
  it("Elasticsearch, Logstash and Kibana at least Elastic's operator defaults (2Gi, 2Gi, 1Gi)", () => {
    expect(composeLimit('elasticsearch')).toBeGreaterThanOrEqual(2048);
    expect(composeLimit('logstash')).toBeGreaterThanOrEqual(2048);
    expect(composeLimit('kibana')).toBeGreaterThanOrEqual(1024);
  });

  it('Jaeger keeps a bounded number of traces, in memory that holds them', () => {
    const config = readYaml('docker', 'jaeger', 'config.yaml') as {
      extensions: { jaeger_storage: { backends: Record<string, { memory?: { max_traces?: number } }> } };
    };
    const backends = Object.values(config.extensions.jaeger_storage.backends);
    expect(backends.length).toBeGreaterThan(0);
    for (const backend of backends) {
      const maxTraces = backend.memory?.max_traces ?? Infinity;
      expect(maxTraces).toBeLessThanOrEqual(25_000);
      // the OpenTelemetry demo's ratio: 25,000 traces in 1200M, about 48 KiB a trace
      expect(composeLimit('jaeger')).toBeGreaterThanOrEqual((maxTraces * 48) / 1024);
    }
    const jaeger = compose.services.jaeger as { command?: string[]; volumes?: string[] };
    expect(jaeger.command).toEqual(['--config', '/etc/jaeger/config.yaml']);
    expect(jaeger.volumes).toContain('./docker/jaeger/config.yaml:/etc/jaeger/config.yaml:ro');
  });
});
