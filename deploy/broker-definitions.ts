// `pnpm broker:definitions`: each service's broker user, with the contracts' permissions, for every
// deployment (deploy/test/compose.test.ts and kubernetes.test.ts fail when these files and their
// sources disagree):
// - docker/rabbitmq/definitions.json, the users RabbitMQ boots with in compose and the laptop
//   cluster (both mount this one file): each service's user and password from its AMQP_URL in
//   docker-compose.yml, and an administrator for people and tools (management UI, `pnpm parked`);
// - k8s/overlays/production/broker-users.yaml, the same users and permissions as resources of the
//   RabbitMQ Messaging Topology Operator, their passwords from the secret store.
import { readFileSync, writeFileSync } from 'node:fs';
import { brokerPermissions, brokerServices, rpcTopicPermission } from '@simplebank/contracts';
import { type BrokerUser, brokerDefinitions, rabbitPasswordMatches } from '@simplebank/stack';
import { parse, stringify } from 'yaml';

export const DEFINITIONS = 'docker/rabbitmq/definitions.json';
/** The demo stacks' administrator: published, as the rest of their passwords are. */
export const ADMINISTRATOR = { name: 'simplebank', password: 'simplebank' };

type Definitions = ReturnType<typeof brokerDefinitions>;
interface Compose {
  services: Record<string, { environment?: Record<string, string> }>;
}

/** Each service that uses the broker as the compose file connects it: its user and password. */
export function brokerUsers(compose: Compose): BrokerUser[] {
  return brokerServices.map((service) => {
    const amqpUrl = compose.services[service]?.environment?.AMQP_URL;
    if (amqpUrl === undefined) throw new Error(`docker-compose.yml: ${service} has no AMQP_URL`);
    const url = new URL(amqpUrl);
    return {
      name: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      grant: { ...brokerPermissions(service), topic: rpcTopicPermission(service) },
    };
  });
}

/**
 * The definitions for `compose`. A user's hash from `previous` is kept while it still matches the
 * password, so that the file changes only when a password or a permission does.
 */
export function definitionsFor(compose: Compose, previous?: Definitions): Definitions {
  const users = brokerUsers(compose);
  const definitions = brokerDefinitions({ vhost: '/', administrator: ADMINISTRATOR, users });
  const passwords = new Map([
    [ADMINISTRATOR.name, ADMINISTRATOR.password],
    ...users.map((u) => [u.name, u.password] as const),
  ]);
  for (const user of definitions.users) {
    const old = previous?.users.find((u) => u.name === user.name);
    if (old && rabbitPasswordMatches(old.password_hash, passwords.get(user.name) as string))
      user.password_hash = old.password_hash;
  }
  return definitions;
}

export const PRODUCTION_USERS = 'k8s/overlays/production/broker-users.yaml';
/** The production broker's RabbitmqCluster (the RabbitMQ Cluster Operator's), in the namespace. */
const cluster = { name: 'rabbitmq' };

/** Each service's user as Messaging Topology Operator resources: User, Permission, TopicPermission. */
export function productionBrokerUsers() {
  return brokerServices.flatMap((service) => {
    const name = `simplebank-${service}`;
    const { configure, write, read } = brokerPermissions(service);
    const topic = rpcTopicPermission(service);
    const resource = (kind: string, spec: object) => ({
      apiVersion: 'rabbitmq.com/v1beta1',
      kind,
      metadata: { name },
      spec: { rabbitmqClusterReference: cluster, ...spec },
    });
    return [
      // username and password from the Secret (`<service>-broker-user`, external-secrets.yaml)
      resource('User', { importCredentialsSecret: { name: `${service}-broker-user` } }),
      resource('Permission', {
        vhost: '/',
        userReference: { name },
        permissions: { configure, write, read },
      }),
      ...(topic
        ? [resource('TopicPermission', { vhost: '/', userReference: { name }, permissions: topic })]
        : []),
    ];
  });
}

const PRODUCTION_HEADER = `# Written by \`pnpm broker:definitions\` from the contracts (brokerPermissions): do not edit.
# Each service's broker user for the RabbitMQ Messaging Topology Operator, in the cluster the RabbitMQ
# Cluster Operator runs (RabbitmqCluster \`rabbitmq\`); its username and password come from the
# secret store (\`<service>-broker-user\`), and the service's AMQP_URL must use the same user.
`;

export const productionBrokerUsersYaml = () =>
  PRODUCTION_HEADER +
  productionBrokerUsers()
    .map((o) => stringify(o, { lineWidth: 0 }))
    .join('---\n');

if (import.meta.main) {
  const root = new URL('..', import.meta.url);
  const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), {
    merge: true,
  }) as Compose;
  const file = new URL(DEFINITIONS, root);
  let previous: Definitions | undefined;
  try {
    previous = JSON.parse(readFileSync(file, 'utf8')) as Definitions;
  } catch {
    previous = undefined;
  }
  writeFileSync(file, `${JSON.stringify(definitionsFor(compose, previous), null, 2)}\n`);
  console.log(`wrote ${DEFINITIONS}: ${brokerServices.length} service users and the administrator`);
  writeFileSync(new URL(PRODUCTION_USERS, root), productionBrokerUsersYaml());
  console.log(
    `wrote ${PRODUCTION_USERS}: ${brokerServices.length} users for the Messaging Topology Operator`,
  );
}
