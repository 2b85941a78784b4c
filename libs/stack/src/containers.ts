// Where `pnpm start` and `pnpm test` find RabbitMQ, PostgreSQL and Redis: the servers answering at
// their local addresses (this machine, CI), or, for a developer with Docker and nothing else, the
// missing ones started in containers with testcontainers, the images compose runs.
import { infrastructure, type MissingServer, missingServers, type ServerName } from './infrastructure.ts';

/** SIMPLEBANK_CONTAINERS: `auto` (containers for what does not answer), `never`, `always`. */
export type ContainersSetting = 'auto' | 'never' | 'always';

export type InfrastructureChoice =
  | { path: 'local' }
  | { path: 'containers'; start: ServerName[] }
  | { path: 'none'; problems: string[] };

const ALL: ServerName[] = ['PostgreSQL', 'RabbitMQ', 'Redis'];

/** Which path a run takes: pure, from what answered, the setting and whether a Docker engine answers. */
export function chooseInfrastructure(
  missing: MissingServer[],
  setting: ContainersSetting,
  dockerAnswers: boolean,
): InfrastructureChoice {
  const noDocker = 'no Docker engine answers (testcontainers found no container runtime)';
  if (setting === 'always')
    return dockerAnswers
      ? { path: 'containers', start: ALL }
      : { path: 'none', problems: [`SIMPLEBANK_CONTAINERS=always, but ${noDocker}`] };
  if (missing.length === 0) return { path: 'local' };
  const lines = missing.map((m) => m.line);
  if (setting === 'never') return { path: 'none', problems: lines };
  if (dockerAnswers) return { path: 'containers', start: missing.map((m) => m.name) };
  return {
    path: 'none',
    problems: [
      ...lines,
      `Or install Docker and start its engine: pnpm start and pnpm test then run what is missing in containers (now ${noDocker}).`,
    ],
  };
}

/** SIMPLEBANK_CONTAINERS, checked. */
export function containersSetting(env: NodeJS.ProcessEnv = process.env): ContainersSetting {
  const value = env.SIMPLEBANK_CONTAINERS || 'auto';
  if (value === 'auto' || value === 'never' || value === 'always') return value;
  throw new Error(`SIMPLEBANK_CONTAINERS must be auto, never or always (got "${value}")`);
}

/** The image of each server, the ones docker-compose.yml runs (deploy/test/compose.test.ts keeps them equal). */
export const SERVER_IMAGES: Record<ServerName, string> = {
  PostgreSQL: 'postgres:17-alpine',
  RabbitMQ: 'rabbitmq:4.2-management',
  Redis: 'redis:7.4-alpine',
};

export interface RunInfrastructure {
  path: 'local' | 'containers';
  /** What to add to the environment of what runs against it. */
  env: Record<string, string>;
  /** One line: which path ran, and where the servers are. */
  summary: string;
  stop(): Promise<void>;
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/**
 * The servers for a run: the local ones when all answer, else the missing ones in containers (when a
 * Docker engine answers and SIMPLEBANK_CONTAINERS allows); throws, saying how to start each, when
 * neither works.
 */
export async function ensureInfrastructure(env: NodeJS.ProcessEnv = process.env): Promise<RunInfrastructure> {
  const setting = containersSetting(env);
  const missing = await missingServers(env);
  const needsDocker = setting === 'always' || (setting === 'auto' && missing.length > 0);
  const choice = chooseInfrastructure(missing, setting, needsDocker && (await dockerAnswers()));
  if (choice.path === 'none') throw new Error(choice.problems.join('\n'));
  if (choice.path === 'local') {
    const where = infrastructure(env)
      .map((s) => `${s.name} at ${s.url.replace(/\/\/[^@/]*@/, '//')}`)
      .join(', ');
    return { path: 'local', env: {}, summary: `infrastructure: local (${where})`, stop: async () => {} };
  }
  return startContainers(choice.start);
}

async function startContainers(names: ServerName[]): Promise<RunInfrastructure> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const started = await Promise.all(
    names.map(async (name) => {
      if (name === 'PostgreSQL') {
        const container = await new GenericContainer(SERVER_IMAGES.PostgreSQL)
          .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
          .withExposedPorts(5432)
          // the image's first start restarts the server once: ready is the second announcement
          .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
          .start();
        const url = `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}`;
        return { name, container, env: { PGHOST_URL: url, TEST_PG_URL: url } };
      }
      if (name === 'RabbitMQ') {
        const container = await new GenericContainer(SERVER_IMAGES.RabbitMQ)
          .withExposedPorts(5672, 15672)
          // guest from outside the container, as from this machine's own broker
          .withCopyContentToContainer([
            { content: 'loopback_users = none\n', target: '/etc/rabbitmq/conf.d/90-simplebank-test.conf' },
          ])
          .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
          .start();
        const host = container.getHost();
        const management = `${host}:${container.getMappedPort(15672)}`;
        return {
          name,
          container,
          env: {
            AMQP_URL: `amqp://guest:guest@${host}:${container.getMappedPort(5672)}`,
            // vhosts and users for suites and services, as with the local broker
            RABBITMQCTL: `docker exec -i ${container.getId()} rabbitmqctl`,
            RABBITMQ_MANAGEMENT_URL: `http://guest:guest@${management}`,
            TEST_RABBITMQ_MANAGEMENT_URL: `http://${management}`,
          },
        };
      }
      const container = await new GenericContainer(SERVER_IMAGES.Redis)
        .withExposedPorts(6379)
        .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
        .start();
      return {
        name,
        container,
        env: { REDIS_URL: `redis://${container.getHost()}:${container.getMappedPort(6379)}` },
      };
    }),
  );
  const where = started
    .map(
      ({ name, env }) =>
        `${name} (${SERVER_IMAGES[name]}) at ${Object.values(env)[0]?.replace(/\/\/[^@/]*@/, '//')}`,
    )
    .join(', ');
  return {
    path: 'containers',
    env: Object.assign({}, ...started.map((s) => s.env)),
    summary: `infrastructure: containers (${where}), removed when this run ends`,
    stop: async () => {
      await Promise.all(started.map(({ container }) => container.stop()));
    },
  };
}
