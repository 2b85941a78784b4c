// RabbitMQ, PostgreSQL and Redis in containers (testcontainers), for scripts/with-infrastructure.ts
// when they do not answer locally: the images compose runs (libs/stack SERVER_IMAGES).
import {
  type ContainerStarter,
  type RunInfrastructure,
  SERVER_IMAGES,
  type ServerName,
  withoutCredentials,
} from '@simplebank/stack';

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function start(names: ServerName[]): Promise<RunInfrastructure> {
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
        return { name, container, url, env: { PGHOST_URL: url, TEST_PG_URL: url } };
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
        const url = `amqp://guest:guest@${host}:${container.getMappedPort(5672)}`;
        return {
          name,
          container,
          url,
          env: {
            AMQP_URL: url,
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
      const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
      return { name, container, url, env: { REDIS_URL: url } };
    }),
  );
  const where = started
    .map(({ name, url }) => `${name} (${SERVER_IMAGES[name]}) at ${withoutCredentials(url)}`)
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

export const containers: ContainerStarter = { dockerAnswers, start };
