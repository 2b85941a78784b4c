import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateWorkflow } from '@action-validator/core';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readRepoFile, readYaml, SERVICES } from './repo.ts';

const source = readRepoFile('.github/workflows/ci.yml');
// biome-ignore lint/suspicious/noExplicitAny: the workflow is checked field by field
const workflow = readYaml('.github/workflows/ci.yml') as any;
// biome-ignore lint/suspicious/noExplicitAny: steps of a job
const steps = (job: string): any[] => workflow.jobs[job].steps;
const script = (job: string) =>
  steps(job)
    .map((s) => s.run ?? '')
    .join('\n');

describe('.github/workflows/ci.yml', () => {
  it("validates against GitHub's workflow JSON schema (SchemaStore's, in @action-validator/core)", () => {
    const state = validateWorkflow(source);
    expect(state.errors).toEqual([]);
    // and the validator does refuse a broken workflow
    expect(validateWorkflow('on: push\njobs:\n  x:\n    steps: 3\n').errors.length).toBeGreaterThan(0);
  });

  it('installs, lints, builds and tests against RabbitMQ, PostgreSQL and Redis service containers', () => {
    const services = workflow.jobs.test.services;
    expect(Object.keys(services).sort()).toEqual(['postgres', 'rabbitmq', 'redis']);
    for (const service of Object.values(services) as { options: string }[])
      expect(service.options).toContain('--health-cmd');
    const run = script('test');
    for (const command of ['pnpm install --frozen-lockfile', 'pnpm lint', 'pnpm build', 'pnpm test'])
      expect(run).toContain(command);
  });

  it('builds every image from the one Dockerfile, with its port and the commit', () => {
    const matrix = workflow.jobs.images.strategy.matrix.include;
    expect(matrix).toEqual(
      SERVICES.map(({ name, port }) => ({ service: name, port })).sort(byService(matrix)),
    );
    const build = steps('images').find((s) => s.uses?.startsWith('docker/build-push-action'));
    expect(build.with.context).toBe('.');
    expect(build.with['build-args']).toContain('GIT_COMMIT=${{ github.sha }}');
    expect(build.with.push).toBe("${{ github.ref == 'refs/heads/main' }}");
  });

  it('deploys on main only: canary, a Prometheus error-rate check, rollback or promotion', () => {
    const deploy = workflow.jobs.deploy;
    expect(deploy.if).toContain("github.ref == 'refs/heads/main'");
    expect(deploy.needs).toBe('images');
    const names = steps('deploy').map((s) => s.name);
    const order = ['Canary', 'Watch the canary', 'Roll the canary back', 'Roll out everywhere'].map(
      (prefix) => names.findIndex((n) => n?.startsWith(prefix)),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const run = script('deploy');
    expect(run).toContain('set image deployment/gateway-canary');
    // the canary's own 5xx share, from the chassis' request histogram, asked of Prometheus' query API
    expect(run).toMatch(
      /query='[^']*http_request_duration_seconds_count\{[^}]*track="canary"[^}]*status_code=~"5\.\."/,
    );
    expect(run).toContain('${PROMETHEUS_URL}/api/v1/query');
    expect(run).toContain('CANARY_MAX_ERROR_RATIO');
    expect(run).toContain('rollout undo deployment/gateway-canary');
    const rollback = steps('deploy').find((s) => s.name?.startsWith('Roll the canary back'));
    expect(rollback.if).toMatch(/always\(\).*healthy != 'true'/);
    expect(Number(workflow.env.CANARY_MAX_ERROR_RATIO)).toBeGreaterThan(0);
  });

  it("sets every image's tag in the production overlay with its sed line", () => {
    const release = steps('deploy').find((s) => s.name?.startsWith('Release images'));
    const sed = /sed -i "([^"]+)" kustomization\.yaml/.exec(release.run)?.[1];
    expect(sed).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'release-'));
    try {
      const file = join(dir, 'kustomization.yaml');
      writeFileSync(file, readRepoFile('k8s/overlays/production/kustomization.yaml'));
      for (const { name } of SERVICES)
        execFileSync('sed', [
          '-i',
          (sed as string).replaceAll('${service}', name).replaceAll('${TAG}', 'abc123'),
          file,
        ]);
      const edited = parse(readFileSync(file, 'utf8')) as {
        images: { name: string; newTag: string }[];
      };
      expect(edited.images.map((i) => i.newTag)).toEqual(SERVICES.map(() => 'abc123'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const byService = (matrix: { service: string }[]) => (a: { service: string }, b: { service: string }) =>
  matrix.findIndex((m) => m.service === a.service) - matrix.findIndex((m) => m.service === b.service);
