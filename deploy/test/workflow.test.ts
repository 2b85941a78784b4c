import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateWorkflow } from '@action-validator/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readRepoFile, readYaml, repoPath, SERVICES } from './repo.ts';

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

  it('fails on known-vulnerable dependencies: pnpm audit at high, right after the install', () => {
    const runs = steps('test').map((s) => s.run ?? '');
    const audit = runs.findIndex((r) => /^pnpm audit --audit-level high\b/.test(r));
    expect(audit).toBeGreaterThan(runs.indexOf('pnpm install --frozen-lockfile'));
    expect(audit).toBeLessThan(runs.indexOf('pnpm build'));
    // not allowed to fail: a step with continue-on-error would only warn
    expect(steps('test')[audit]['continue-on-error']).toBeUndefined();
  });

  it('runs third-party actions pinned by commit, never by a tag that can be moved', () => {
    const uses = Object.keys(workflow.jobs).flatMap((job) =>
      steps(job)
        .map((s) => s.uses as string | undefined)
        .filter((u): u is string => u !== undefined),
    );
    expect(uses.length).toBeGreaterThan(0);
    for (const action of uses) expect(action).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
    // and the version each commit is, for whoever updates it
    for (const line of source.split('\n').filter((l) => /^\s*(- )?uses:/.test(l)))
      expect(line).toMatch(/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
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

  it("sets every image's tag in the production overlay with its sed lines, the exchange's its own", () => {
    const release = steps('deploy').find((s) => s.name?.startsWith('Release images'));
    expect(release.env.EXCHANGE_TAG).toBe('${{ steps.exchange.outputs.tag || github.sha }}');
    const [loop, exchange, ...more] = [...release.run.matchAll(/sed -i "([^"]+)" kustomization\.yaml/g)].map(
      (m) => m[1] as string,
    );
    expect(loop).toBeDefined();
    expect(exchange).toBeDefined();
    expect(more).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'release-'));
    try {
      const file = join(dir, 'kustomization.yaml');
      writeFileSync(file, readRepoFile('k8s/overlays/production/kustomization.yaml'));
      for (const { name } of SERVICES)
        execFileSync('sed', [
          '-i',
          (loop as string).replaceAll('${service}', name).replaceAll('${TAG}', 'abc123'),
          file,
        ]);
      execFileSync('sed', ['-i', (exchange as string).replaceAll('${EXCHANGE_TAG}', 'def456'), file]);
      const edited = parse(readFileSync(file, 'utf8')) as {
        images: { name: string; newTag: string }[];
      };
      expect(Object.fromEntries(edited.images.map((i) => [i.name, i.newTag]))).toEqual(
        Object.fromEntries(
          SERVICES.map(({ name }) => [`simplebank/${name}`, name === 'stock-exchange' ? 'def456' : 'abc123']),
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('releases the exchange simulator (Recreate) only when something it is built from changed', () => {
    const step = steps('deploy').find((s) => s.id === 'exchange');
    const sources: string[] = step.env.EXCHANGE_SOURCES.trim().split(/\s+/);

    it('runs before the release is rendered, with the history to compare against', () => {
      const ids = steps('deploy').map((s) => s.id ?? s.name);
      expect(ids.indexOf('exchange')).toBeLessThan(
        steps('deploy').findIndex((s) => s.name?.startsWith('Release images')),
      );
      expect(steps('deploy')[0]).toMatchObject({
        uses: expect.stringMatching(/^actions\/checkout@/),
        with: { 'fetch-depth': 0 },
      });
    });

    it('lists what its image is built from: the recipe, the lockfile, its package and the ones it needs', () => {
      // the workspace packages its production bundle holds: its dependencies, and theirs
      const packages = new Map<string, { dir: string; dependencies: Record<string, string> }>();
      for (const parent of ['libs', 'services'])
        for (const dir of readdirSync(repoPath(parent))) {
          const manifest = JSON.parse(readRepoFile(parent, dir, 'package.json')) as {
            name: string;
            dependencies?: Record<string, string>;
          };
          packages.set(manifest.name, { dir: `${parent}/${dir}`, dependencies: manifest.dependencies ?? {} });
        }
      const needed = new Set<string>();
      const visit = (name: string) => {
        const found = packages.get(name);
        if (!found || needed.has(found.dir)) return;
        needed.add(found.dir);
        for (const [dependency, version] of Object.entries(found.dependencies))
          if (version.startsWith('workspace:')) visit(dependency);
      };
      visit('@simplebank/stock-exchange');
      expect([...needed].sort()).toEqual(['libs/chassis', 'libs/contracts', 'services/stock-exchange']);
      expect(sources).toEqual(
        expect.arrayContaining([
          ...needed,
          'Dockerfile',
          '.dockerignore',
          'package.json',
          'pnpm-lock.yaml',
          'pnpm-workspace.yaml',
          'tsconfig.base.json',
        ]),
      );
    });

    // The step's own script, in a repository of three commits, with a kubectl that answers what the
    // cluster runs.
    let dir = '';
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=ci', '-c', 'user.email=ci@example.com', ...args], {
        cwd: dir,
        encoding: 'utf8',
      }).trim();
    const commit = (path: string, message: string) => {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), `${message}\n`);
      git('add', '.');
      git('commit', '-q', '-m', message);
      return git('rev-parse', 'HEAD');
    };
    let deployed = '';
    let otherChange = '';
    let exchangeChange = '';
    const release = (tag: string, image: string) => {
      const bin = join(dir, '.bin');
      const output = join(dir, '.output');
      writeFileSync(output, '');
      execFileSync('bash', ['-e', '-c', step.run], {
        cwd: dir,
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          TAG: tag,
          GITHUB_OUTPUT: output,
          EXCHANGE_SOURCES: step.env.EXCHANGE_SOURCES,
          RUNNING_IMAGE: image,
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      return /^tag=(.*)$/m.exec(readFileSync(output, 'utf8'))?.[1];
    };

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'release-exchange-'));
      git('init', '-q');
      mkdirSync(join(dir, '.bin'));
      // kubectl get deployment/stock-exchange -o jsonpath=…image: the image it runs, or not found
      writeFileSync(
        join(dir, '.bin', 'kubectl'),
        '#!/bin/sh\n[ -n "$RUNNING_IMAGE" ] || { echo "NotFound" >&2; exit 1; }\nprintf "%s" "$RUNNING_IMAGE"\n',
      );
      chmodSync(join(dir, '.bin', 'kubectl'), 0o755);
      writeFileSync(join(dir, '.gitignore'), '.bin\n.output\n');
      for (const source of sources.filter((s) => s.includes('/'))) commit(`${source}/file.txt`, source);
      deployed = commit('Dockerfile', 'the release that runs');
      otherChange = commit('services/orders/src/server.ts', 'orders only');
      exchangeChange = commit('libs/chassis/src/service.ts', 'the chassis');
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const image = (tag: string) => `ghcr.io/simplebank/stock-exchange:${tag}`;

    it('keeps the running image when no file it is built from changed since its commit', () => {
      expect(release(otherChange, image(deployed))).toBe(deployed);
    });

    it('releases the new image when one did', () => {
      expect(release(exchangeChange, image(deployed))).toBe(exchangeChange);
      expect(release(exchangeChange, image(otherChange))).toBe(exchangeChange);
    });

    it('releases the new image when what runs is not a commit it knows (first release, a hand-set tag)', () => {
      expect(release(otherChange, '')).toBe(otherChange);
      expect(release(otherChange, image('main'))).toBe(otherChange);
      expect(release(otherChange, image('0'.repeat(40)))).toBe(otherChange);
    });
  });
});

const byService = (matrix: { service: string }[]) => (a: { service: string }, b: { service: string }) =>
  matrix.findIndex((m) => m.service === a.service) - matrix.findIndex((m) => m.service === b.service);
