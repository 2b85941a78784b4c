import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { chooseInfrastructure, containersSetting } from '../src/containers.ts';
import type { MissingServer } from '../src/infrastructure.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const wrapper = join(root, 'scripts', 'with-infrastructure.ts');

const rabbit: MissingServer = { name: 'RabbitMQ', line: 'RabbitMQ is not reachable at … Start it with: …' };
const redis: MissingServer = { name: 'Redis', line: 'Redis is not reachable at … Start it with: …' };

describe('which servers a run uses', () => {
  it('the local ones when all answer, whatever Docker does', () => {
    expect(chooseInfrastructure([], 'auto', true)).toEqual({ path: 'local' });
    expect(chooseInfrastructure([], 'auto', false)).toEqual({ path: 'local' });
    expect(chooseInfrastructure([], 'never', false)).toEqual({ path: 'local' });
  });

  it('containers for exactly what does not answer, when a Docker engine does', () => {
    expect(chooseInfrastructure([rabbit, redis], 'auto', true)).toEqual({
      path: 'containers',
      start: ['RabbitMQ', 'Redis'],
    });
  });

  it('none, saying how to start each missing server and that Docker would do, when no engine answers', () => {
    const choice = chooseInfrastructure([rabbit], 'auto', false);
    expect(choice.path).toBe('none');
    expect(choice.path === 'none' && choice.problems).toEqual([
      rabbit.line,
      expect.stringMatching(/^Or install Docker and start its engine: .*now no Docker engine answers/),
    ]);
  });

  it('SIMPLEBANK_CONTAINERS=never: the local ones or nothing; always: all three in containers', () => {
    expect(chooseInfrastructure([rabbit], 'never', true)).toEqual({ path: 'none', problems: [rabbit.line] });
    expect(chooseInfrastructure([], 'always', true)).toEqual({
      path: 'containers',
      start: ['PostgreSQL', 'RabbitMQ', 'Redis'],
    });
    expect(chooseInfrastructure([], 'always', false)).toMatchObject({ path: 'none' });
    expect(containersSetting({})).toBe('auto');
    expect(containersSetting({ SIMPLEBANK_CONTAINERS: 'never' })).toBe('never');
    expect(() => containersSetting({ SIMPLEBANK_CONTAINERS: 'sometimes' })).toThrow(
      'SIMPLEBANK_CONTAINERS must be auto, never or always (got "sometimes")',
    );
  });
});

/** Runs `scripts/with-infrastructure.ts` (what `pnpm test` runs its suites under) as pnpm would. */
const withInfrastructure = (env: Record<string, string>, ...command: string[]) =>
  promisify(execFile)(process.execPath, [wrapper, ...command], { env: { ...process.env, ...env } });

describe('scripts/with-infrastructure.ts', () => {
  it('says it ran on the local servers, leaves the environment as it was, and answers the exit code', async () => {
    const print = 'console.log(process.env.RABBITMQCTL ?? "no RABBITMQCTL", process.env.PGHOST_URL ?? "")';
    const { stdout, stderr } = await withInfrastructure({}, process.execPath, '-e', print);
    expect(stderr).toMatch(/^infrastructure: local \(PostgreSQL at .*, RabbitMQ at .*, Redis at .*\)$/m);
    expect(stdout.trim()).toBe(`no RABBITMQCTL ${process.env.PGHOST_URL ?? ''}`.trim());
    await expect(withInfrastructure({}, process.execPath, '-e', 'process.exit(3)')).rejects.toMatchObject({
      code: 3,
    });
  }, 30_000);

  it('runs nothing when a server is missing and containers are not an option, and says how to start it', async () => {
    const dead = { PGHOST_URL: 'postgres://postgres@127.0.0.1:1' };
    const marker = 'console.log("the command ran")';
    // never: the local ones or nothing
    const never = withInfrastructure(
      { ...dead, SIMPLEBANK_CONTAINERS: 'never' },
      process.execPath,
      '-e',
      marker,
    );
    await expect(never).rejects.toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringContaining('PostgreSQL is not reachable at postgres://127.0.0.1:1'),
    });
    // auto, with no Docker engine where testcontainers looks (DOCKER_HOST: nothing listens there)
    const auto = withInfrastructure(
      { ...dead, DOCKER_HOST: 'tcp://127.0.0.1:1' },
      process.execPath,
      '-e',
      marker,
    );
    await expect(auto).rejects.toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(/PostgreSQL is not reachable[\s\S]*Or install Docker/),
    });
    await expect(
      withInfrastructure({ SIMPLEBANK_CONTAINERS: 'sometimes' }, process.execPath, '-e', marker),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('must be auto, never or always') });
  }, 30_000);
});
