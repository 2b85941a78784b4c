// Administering the broker: its virtual hosts, users and permissions, through rabbitmqctl.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { BrokerGrant } from '@simplebank/contracts';

/**
 * Runs `rabbitmqctl` with `args` (and `input` on its standard input): the broker on this machine,
 * or, where RABBITMQCTL names another command line (`docker exec -i <container> rabbitmqctl`, which
 * `pnpm start` and `pnpm test` set when they run RabbitMQ in a container), that one.
 */
export function rabbitmqctl(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const [command = 'rabbitmqctl', ...prefix] = (process.env.RABBITMQCTL ?? 'rabbitmqctl').trim().split(/\s+/);
  return new Promise((resolve, reject) => {
    const child = execFile(command, [...prefix, ...args], (error, stdout, stderr) =>
      error ? reject(Object.assign(error, { stdout, stderr })) : resolve({ stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

/**
 * A broker user named `user` in the virtual host of `amqpUrl` (created, or its password and
 * permissions set anew), with a new random password and exactly `grant`; returns the vhost's AMQP
 * URL with the user's credentials. Through `rabbitmqctl`, so on the broker's own machine (or in its
 * container), as the local stack's other set-up (the vhosts) is.
 */
export async function brokerUser(
  amqpUrl: string,
  user: string,
  grant: BrokerGrant,
  password = randomBytes(18).toString('base64url'),
): Promise<string> {
  const url = new URL(amqpUrl);
  const vhost = decodeURIComponent(url.pathname.slice(1)) || '/';
  // `--`: a password may begin with `-` (one in 64 base64url ones do), which rabbitmqctl would
  // take for an option
  await rabbitmqctl(['-q', 'add_user', '--', user, password]).catch(() =>
    rabbitmqctl(['-q', 'change_password', '--', user, password]),
  );
  const { configure, write, read, topic } = grant;
  await rabbitmqctl(['-q', 'set_permissions', '-p', vhost, user, configure, write, read]);
  if (topic) {
    const { exchange, write: writeTopic, read: readTopic } = topic;
    await rabbitmqctl(['-q', 'set_topic_permissions', '-p', vhost, user, exchange, writeTopic, readTopic]);
  }
  url.username = encodeURIComponent(user);
  url.password = password;
  return url.toString();
}

/**
 * Gives each service a broker user of its own, named `<prefix><service>`, with the permissions
 * `grant` says (the contracts' `brokerPermissions`); returns each service's AMQP URL. A service's
 * name as the user's last part lets each service derive its producers' users from its own
 * (`publisherUser`).
 */
export async function provisionBrokerUsers(
  amqpUrl: string,
  services: readonly string[],
  prefix: string,
  grant: (service: string) => BrokerGrant,
): Promise<Record<string, string>> {
  const urls: Record<string, string> = {};
  // one at a time: each rabbitmqctl call starts an Erlang VM, and two cores are all there is
  for (const service of services)
    urls[service] = await brokerUser(amqpUrl, `${prefix}${service}`, grant(service));
  return urls;
}
