// Where `pnpm start` and `pnpm test` find RabbitMQ, PostgreSQL and Redis: the servers answering at
// their local addresses (this machine, CI), or, for a developer with Docker and nothing else, the
// missing ones started in containers (scripts/containers.ts, with testcontainers), the images compose runs.
import {
  infrastructure,
  type MissingServer,
  missingServers,
  type ServerName,
  withoutCredentials,
} from './infrastructure.ts';

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

/**
 * Docker through testcontainers: scripts/containers.ts, outside this package, so that what
 * depends on the stack does not carry testcontainers (and its optional peers) along.
 */
export interface ContainerStarter {
  dockerAnswers(): Promise<boolean>;
  start(names: ServerName[]): Promise<RunInfrastructure>;
}

/**
 * The servers for a run: the local ones when all answer, else the missing ones in containers (when a
 * Docker engine answers and SIMPLEBANK_CONTAINERS allows); throws, saying how to start each, when
 * neither works.
 */
export async function ensureInfrastructure(
  containers: ContainerStarter,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunInfrastructure> {
  const setting = containersSetting(env);
  const missing = await missingServers(env);
  const needsDocker = setting === 'always' || (setting === 'auto' && missing.length > 0);
  const choice = chooseInfrastructure(missing, setting, needsDocker && (await containers.dockerAnswers()));
  if (choice.path === 'none') throw new Error(choice.problems.join('\n'));
  if (choice.path === 'local') {
    const where = infrastructure(env)
      .map((s) => `${s.name} at ${withoutCredentials(s.url)}`)
      .join(', ');
    return { path: 'local', env: {}, summary: `infrastructure: local (${where})`, stop: async () => {} };
  }
  return containers.start(choice.start);
}
