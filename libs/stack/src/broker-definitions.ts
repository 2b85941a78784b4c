import { createHash, randomBytes } from 'node:crypto';
import type { BrokerGrant } from '@simplebank/contracts';

/**
 * A password as RabbitMQ stores it (`rabbit_password_hashing_sha256`, its default): base64 of a
 * 4-byte salt followed by SHA-256 of the salt and the password's UTF-8 bytes.
 */
export function rabbitPasswordHash(password: string, salt: Buffer = randomBytes(4)): string {
  const digest = createHash('sha256').update(salt).update(password, 'utf8').digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

/** Whether `password` is the one `hash` (a `rabbitPasswordHash`) was made from. */
export function rabbitPasswordMatches(hash: string, password: string): boolean {
  const salt = Buffer.from(hash, 'base64').subarray(0, 4);
  return salt.length === 4 && rabbitPasswordHash(password, salt) === hash;
}

export interface BrokerUser {
  name: string;
  password: string;
  grant: BrokerGrant;
}

/**
 * RabbitMQ definitions, imported when the broker boots (compose, the laptop cluster): the virtual
 * host, an administrator for people and tools (the management UI, `pnpm parked`), and each
 * service's user with exactly its grant. A broker that imports definitions at boot creates no
 * default user, so these are all the users there are.
 */
export function brokerDefinitions({
  vhost,
  administrator,
  users,
}: {
  vhost: string;
  administrator: { name: string; password: string };
  users: readonly BrokerUser[];
}) {
  const user = (name: string, password: string, tags: string[]) => ({
    name,
    password_hash: rabbitPasswordHash(password),
    hashing_algorithm: 'rabbit_password_hashing_sha256',
    tags,
    limits: {},
  });
  return {
    users: [
      user(administrator.name, administrator.password, ['administrator']),
      ...users.map((u) => user(u.name, u.password, [])),
    ],
    vhosts: [{ name: vhost }],
    permissions: [
      { user: administrator.name, vhost, configure: '.*', write: '.*', read: '.*' },
      ...users.map(({ name, grant }) => ({
        user: name,
        vhost,
        configure: grant.configure,
        write: grant.write,
        read: grant.read,
      })),
    ],
    topic_permissions: users.flatMap(({ name, grant }) =>
      grant.topic ? [{ user: name, vhost, ...grant.topic }] : [],
    ),
  };
}
