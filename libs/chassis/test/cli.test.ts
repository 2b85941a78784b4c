import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { type CliContext, isSecret, serviceCli } from '../src/cli.ts';

const run = promisify(execFile);

const definition = {
  name: 'fees',
  version: '1.2.3',
  port: 8083,
  config: Type.Object({ FEE_FIXED_CENTS: Type.Integer({ default: 100 }), JWT_SECRET: Type.String() }),
};
const context = (env: NodeJS.ProcessEnv = {}): CliContext => ({
  env,
  execPath: '/usr/bin/node',
  entry: '/opt/simplebank/fees/dist/server.js',
});
const output = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const result = serviceCli(definition, argv, context(env));
  if (result.action !== 'exit') throw new Error('expected the CLI to answer');
  return result;
};

describe('service command line', () => {
  it('starts the service without arguments', () => {
    expect(serviceCli(definition, [], context())).toEqual({ action: 'start' });
  });

  it('--version names the service, its version and the commit it was built from', () => {
    expect(output(['--version'], { GIT_COMMIT: 'abc1234' })).toEqual({
      action: 'exit',
      code: 0,
      stdout: 'fees 1.2.3 (commit abc1234)\n',
      stderr: '',
    });
    expect(output(['-v']).stdout).toBe('fees 1.2.3 (commit unknown)\n');
  });

  it('--help lists every variable it reads, the chassis ones and its own, with defaults', () => {
    const { stdout, code } = output(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: fees \[--version \| --help \| init\]/);
    expect(stdout).toMatch(/^ {2}AMQP_URL +default amqp:\/\/guest:guest@127\.0\.0\.1:5672$/m);
    expect(stdout).toMatch(/^ {2}PORT +default 8083$/m);
    expect(stdout).toMatch(/^ {2}FEE_FIXED_CENTS +default 100$/m);
    expect(stdout).toMatch(/^ {2}DATABASE_URL +\(unset\)$/m);
  });

  it('refuses unknown commands and extra arguments with exit code 2', () => {
    expect(output(['deploy'])).toMatchObject({ code: 2, stdout: '', stderr: /unknown command deploy/ });
    expect(output(['init', 'now'])).toMatchObject({ code: 2, stderr: /unexpected argument now/ });
  });

  describe('init', () => {
    const env = {
      AMQP_URL: 'amqp://app:s3cret@mq.internal:5672',
      PGHOST_URL: 'postgres://db.internal:5432',
      FEE_FIXED_CENTS: '150',
      JWT_SECRET: 'x'.repeat(40),
      LOG_LEVEL: 'warn',
      STATSD_PREFIX: '100%',
      UNRELATED: 'not read by the service',
    };
    const unit = output(['init'], env).stdout;
    const lines = unit.split('\n');

    it('prints a systemd unit with the three sections, started by the exact image command', () => {
      expect(lines).toContain('[Unit]');
      expect(lines).toContain('[Service]');
      expect(lines).toContain('[Install]');
      expect(lines).toContain('WantedBy=multi-user.target');
      expect(lines).toContain(
        'ExecStart=/usr/bin/node --enable-source-maps --import @simplebank/chassis/telemetry /opt/simplebank/fees/dist/server.js',
      );
      // --import resolves the chassis from here
      expect(lines).toContain('WorkingDirectory=/opt/simplebank/fees');
      expect(lines).toContain('KillSignal=SIGTERM');
      expect(lines).toContain('TimeoutStopSec=15');
      expect(lines).toContain('Restart=on-failure');
    });

    it('carries configuration as Environment= lines only, never a configuration file', () => {
      expect(unit).not.toMatch(/EnvironmentFile|\.conf\b|\.ya?ml\b|\.json\b/);
      expect(lines).toContain('Environment="PGHOST_URL=postgres://db.internal:5432"');
      expect(lines).toContain('Environment="FEE_FIXED_CENTS=150"');
      expect(lines).toContain('Environment="LOG_LEVEL=warn"');
      // a VM's service listens on its address; HOST defaults to loopback for developers
      expect(lines).toContain('Environment="HOST=0.0.0.0"');
      expect(lines).toContain('Environment="NODE_ENV=production"');
      // systemd specifiers start with %: a literal one is doubled
      expect(lines).toContain('Environment="STATSD_PREFIX=100%%"');
      expect(unit).not.toContain('UNRELATED');
    });

    it('keeps secrets and URLs with passwords out of the world-readable unit', () => {
      expect(unit).not.toContain('s3cret');
      expect(unit).not.toContain('x'.repeat(40));
      expect(unit).toMatch(/^# {3}Environment="JWT_SECRET=…"$/m);
      expect(unit).toMatch(/^# {3}Environment="AMQP_URL=…"$/m);
      expect(isSecret('DEBUG_TOKEN', 'anything')).toBe(true);
      expect(isSecret('PGHOST_URL', 'postgres://postgres@127.0.0.1:5432')).toBe(false);
    });
  });

  it('answers from a real entry point before connecting to anything', async () => {
    // a service whose broker and database are unreachable: --version must not try them
    const dir = await mkdtemp(join(tmpdir(), 'chassis-cli-'));
    // the built chassis (turbo builds it before its tests), as a service's dist/server.js uses it
    const chassis = new URL('../dist/index.js', import.meta.url).href;
    const entry = join(dir, 'server.js');
    await writeFile(
      entry,
      `import { runService, defineService } from '${chassis}';\n` +
        `await runService(defineService({ name: 'probe', version: '9.9.9', port: 1, migrations: new URL('file:///nowhere/') }));\n`,
    );
    try {
      const env = { ...process.env, GIT_COMMIT: 'feedbee', PGHOST_URL: 'postgres://127.0.0.1:1' };
      const version = await run(process.execPath, [entry, '--version'], { env });
      expect(version.stdout).toBe('probe 9.9.9 (commit feedbee)\n');
      const unit = await run(process.execPath, [entry, 'init'], { env });
      expect(unit.stdout).toContain(`ExecStart=${process.execPath} --enable-source-maps --import`);
      await expect(run(process.execPath, [entry, 'nonsense'], { env })).rejects.toMatchObject({ code: 2 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
