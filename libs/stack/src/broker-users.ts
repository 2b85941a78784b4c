import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BrokerGrant {
  configure: string;
  write: string;
  read: string;
  /** A topic permission on one exchange (the RPC exchange, for a caller). */
  topic?: { exchange: string; write: string; read: string } | undefined;
}

/**
 * Gives each service a RabbitMQ user of its own in the virtual host of `amqpUrl`, named
 * `<prefix><service>`, with a new random password and exactly the permissions `grant` says (the
 * contracts' `brokerPermissions`); returns each service's AMQP URL. Through `rabbitmqctl`, so on the
 * broker's own machine, as the local stack's other set-up (the vhosts) is. A service's name as the
 * user's last part lets each service derive its producers' users from its own (`publisherUser`).
 */
export async function provisionBrokerUsers(
  amqpUrl: string,
  services: readonly string[],
  prefix: string,
  grant: (service: string) => BrokerGrant,
): Promise<Record<string, string>> {
  const url = new URL(amqpUrl);
  const vhost = decodeURIComponent(url.pathname.slice(1)) || '/';
  const urls: Record<string, string> = {};
  // one at a time: each rabbitmqctl call starts an Erlang VM, and two cores are all there is
  for (const service of services) {
    const user = `${prefix}${service}`;
    const password = randomBytes(18).toString('base64url');
    await run('rabbitmqctl', ['-q', 'add_user', user, password]).catch(() =>
      run('rabbitmqctl', ['-q', 'change_password', user, password]),
    );
    const { configure, write, read, topic } = grant(service);
    await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, user, configure, write, read]);
    if (topic) {
      await run('rabbitmqctl', [
        '-q',
        'set_topic_permissions',
        '-p',
        vhost,
        user,
        topic.exchange,
        topic.write,
        topic.read,
      ]);
    }
    const own = new URL(amqpUrl);
    own.username = encodeURIComponent(user);
    own.password = password;
    urls[service] = own.toString();
  }
  return urls;
}
