import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { nodeArguments } from '@simplebank/stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRepoFile, repoPath, root, run, SERVICES } from './repo.ts';

const dockerfile = readRepoFile('Dockerfile');
/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
const runtime = instructions.slice(instructions.findIndex((l) => / AS runtime$/.test(l)));
const instruction = (lines: string[], name: string) => lines.filter((l) => l.startsWith(`${name} `));
const entrypoint = JSON.parse(
  (instruction(runtime, 'ENTRYPOINT')[0] as string).slice('ENTRYPOINT '.length),
) as string[];
/** `ENV` of the runtime stage, with the build arguments a build of `service` gives. */
const imageEnv = (service: string, port: number, commit: string) => {
  const args: Record<string, string> = { SERVICE: service, PORT: String(port), GIT_COMMIT: commit };
  const line = (instruction(runtime, 'ENV')[0] as string).slice('ENV '.length);
  return Object.fromEntries(
    [...line.matchAll(/(\w+)=(\S+)/g)].map(([, k, v]) => [
      k,
      (v as string).replace(/\$\{(\w+)\}/, (_, a) => args[a] ?? ''),
    ]),
  ) as Record<string, string>;
};

describe('Dockerfile', () => {
  it('builds on Node 24 LTS in stages and runs as a non-root user', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-[a-z]+-slim$/m);
    expect(instruction(instructions, 'FROM')).toEqual([
      'FROM ${NODE_IMAGE} AS build',
      'FROM ${NODE_IMAGE} AS runtime',
    ]);
    expect(instruction(runtime, 'USER')).toEqual(['USER 1000:1000']);
    // only the production bundle reaches the runtime stage
    expect(instruction(runtime, 'COPY')).toEqual(['COPY --from=build /bundle /app']);
    // installs and bundles from the lockfile's fetch only: no resolution at build time (and the
    // bundle test below, which runs the same command, needs no network)
    const installs = instruction(instructions, 'RUN').filter((l) =>
      /^RUN pnpm .*\b(install|deploy)\b/.test(l),
    );
    expect(installs).toHaveLength(2);
    for (const line of installs) expect(line).toContain('--offline');
    // --legacy deploy re-resolves ranges from pnpm's metadata cache, empty on a new machine
    for (const line of installs) expect(line).not.toContain('--legacy');
  });

  it('checks /health/live with Node itself and lets SIGTERM reach node (exec form, no shell)', () => {
    const [healthcheck] = instruction(runtime, 'HEALTHCHECK');
    expect(healthcheck).toMatch(
      /CMD \["node", "-e", "fetch\('http:\/\/127\.0\.0\.1:'\+\(process\.env\.OPS_PORT\|\|process\.env\.PORT\)\+'\/health\/live'\)/,
    );
    expect(entrypoint[0]).toBe('node');
    expect(instruction(runtime, 'CMD')).toEqual([]);
    expect(instruction(runtime, 'STOPSIGNAL')).toEqual(['STOPSIGNAL SIGTERM']);
  });

  it("starts what `pnpm start` starts: each service's start script, and the local launcher's flags", () => {
    for (const { name } of SERVICES) {
      const { scripts } = JSON.parse(readRepoFile('services', name, 'package.json')) as {
        scripts: { start: string };
      };
      expect(scripts.start.split(' '), name).toEqual(entrypoint);
    }
    // libs/stack spawns node --enable-source-maps --import <chassis telemetry> <service>/dist/server.js
    expect(nodeArguments('/repo', 'orders', false)).toEqual([
      '--enable-source-maps',
      '--import',
      'file:///repo/libs/chassis/dist/telemetry.js',
      '/repo/services/orders/dist/server.js',
    ]);
    expect(entrypoint.slice(1)).toEqual([
      '--enable-source-maps',
      '--import',
      '@simplebank/chassis/telemetry',
      'dist/server.js',
    ]);
  });

  it('bakes the commit in for /version and leaves nothing the build does not need in its context', () => {
    expect(dockerfile).toMatch(/^ARG GIT_COMMIT=unknown$/m);
    expect(imageEnv('orders', 8081, 'abc')).toMatchObject({
      GIT_COMMIT: 'abc',
      PORT: '8081',
      HOST: '0.0.0.0',
    });
    const ignored = readRepoFile('.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git']));
    // every workspace package stays in the context: the frozen lockfile install needs them all
    const workspaces = readRepoFile('pnpm-workspace.yaml').match(/^ {2}- ([\w/*]+)$/gm) ?? [];
    for (const workspace of workspaces) expect(ignored).not.toContain(workspace.slice(4).replace('/*', ''));
  });
});

/** Every image the Dockerfile builds: the seven services, and the compose demo's console. */
const IMAGES = [...SERVICES, { name: 'console', port: 8070 }] as const;

describe('the production bundle of each image', () => {
  const commit = 'deadbee';
  const bundles = new Map<string, string>();
  const dir = mkdtempSync(join(tmpdir(), 'simplebank-bundles-'));
  const emptyCache = mkdtempSync(join(tmpdir(), 'simplebank-pnpm-cache-'));
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    // the Dockerfile's own command, for each service
    const deploy = (instruction(instructions, 'RUN').find((l) => l.includes(' deploy ')) as string).slice(
      'RUN '.length,
    );
    for (const { name } of IMAGES) {
      const out = join(dir, name);
      const args = deploy
        .replaceAll('"', '')
        .replaceAll('${SERVICE}', name)
        .replace('/bundle', out)
        .split(' ')
        .slice(1);
      // an empty pnpm cache, as on a new machine: a step that only works with pnpm's metadata cache
      // warm (the --legacy deploy did) fails here instead of in CI
      await run('pnpm', args, { cwd: root, env: { ...process.env, XDG_CACHE_HOME: emptyCache } });
      bundles.set(name, out);
    }
  }, 300_000); // eight pnpm deploy runs, about 5 s each

  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    rmSync(emptyCache, { recursive: true, force: true });
  });

  /** The image's start command, in the bundle as WORKDIR, with the image's environment. */
  const start = (name: string, port: number, env: Record<string, string>, args: string[] = []) => {
    const [, ...nodeArgs] = entrypoint;
    const child = spawn(process.execPath, [...nodeArgs, ...args], {
      cwd: bundles.get(name),
      env: {
        PATH: process.env.PATH ?? '',
        ...imageEnv(name, port, commit),
        OTEL_SDK_DISABLED: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    return { child, output: () => output };
  };

  /** Waits for /health/ready; on a timeout the error carries what the process has printed by then. */
  const ready = async (name: string, url: string, output: () => string, timeoutMs: number) => {
    try {
      await waitFor(`${name} ready`, async () => (await fetch(`${url}/health/ready`)).ok, { timeoutMs });
    } catch (error) {
      throw new Error(`${(error as Error).message}; its output:\n${output()}`, { cause: error });
    }
  };

  it('holds the built service and its production dependencies only', () => {
    for (const { name } of IMAGES) {
      const bundle = bundles.get(name) as string;
      expect(existsSync(join(bundle, 'dist', 'server.js')), name).toBe(true);
      expect(existsSync(join(bundle, 'src')), name).toBe(false);
      expect(
        existsSync(join(bundle, 'node_modules', '@simplebank', 'chassis', 'dist', 'telemetry.js')),
        name,
      ).toBe(true);
      const modules = readdirSync(join(bundle, 'node_modules'));
      for (const dev of ['vitest', 'typescript', '@biomejs', 'turbo', '@types'])
        expect(modules, name).not.toContain(dev);
      if (existsSync(repoPath('services', name, 'migrations')))
        expect(readdirSync(join(bundle, 'migrations')), name).toEqual(
          readdirSync(repoPath('services', name, 'migrations')),
        );
    }
  });

  it.each(IMAGES)(
    '$name answers --version from its bundle with the baked-in commit',
    async ({ name, port }) => {
      const { child, output } = start(name, port, {}, ['--version']);
      const [code] = await once(child, 'exit');
      const { version } = JSON.parse(readFileSync(join(bundles.get(name) as string, 'package.json'), 'utf8'));
      expect(output()).toBe(`${name} ${version} (commit ${commit})\n`);
      expect(code).toBe(0);
    },
  );

  it('starts the console with the image command and serves its page from the bundle', async () => {
    const port = 28070;
    const { child, output } = start('console', port, {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    });
    const url = `http://127.0.0.1:${port}`;
    await ready('console', url, output, 30_000);
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<title>SimpleBank demo</title>');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  }, 45_000);

  it('starts the stock exchange with the image command against its database (migrations from the bundle), SIGTERM stops it', async () => {
    // its own database, as DATABASE_URL gives it in compose and k8s; it takes no messages
    const env = await testEnvironment('deploy_bundle_stock_exchange');
    const port = 28090;
    const { child, output } = start('stock-exchange', port, {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: env.DATABASE_URL as string,
      LOG_LEVEL: 'warn',
    });
    const url = `http://127.0.0.1:${port}`;
    await ready('stock-exchange', url, output, 30_000);
    expect(await (await fetch(`${url}/version`)).json()).toMatchObject({ commit, version: '0.1.0' });
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  }, 45_000);

  it('starts orders with the image command against PostgreSQL and RabbitMQ (migrations from the bundle)', async () => {
    const env = await testEnvironment('deploy_bundle_orders');
    const port = 28081;
    const { child, output } = start('orders', port, {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: env.DATABASE_URL as string,
      AMQP_URL: env.AMQP_URL as string,
      LOG_LEVEL: 'warn',
    });
    const url = `http://127.0.0.1:${port}`;
    await ready('orders', url, output, 30_000);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  }, 45_000);
});
