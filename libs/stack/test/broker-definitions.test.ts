import { randomBytes } from 'node:crypto';
import { rabbitmqctl } from '@simplebank/chassis';
import { afterAll, describe, expect, it } from 'vitest';
import { brokerDefinitions, rabbitPasswordHash, rabbitPasswordMatches } from '../src/broker-definitions.ts';

describe('RabbitMQ password hashes', () => {
  it('are a 4-byte salt and SHA-256 of salt and password, each salt new', () => {
    const hash = rabbitPasswordHash('s3cret');
    expect(Buffer.from(hash, 'base64')).toHaveLength(4 + 32);
    expect(rabbitPasswordMatches(hash, 's3cret')).toBe(true);
    expect(rabbitPasswordMatches(hash, 's3cret ')).toBe(false);
    expect(rabbitPasswordHash('s3cret')).not.toBe(hash);
  });
});

describe('broker definitions imported into the real RabbitMQ', () => {
  const run_ = randomBytes(4).toString('hex');
  const vhost = `simplebank_definitions_${run_}`;
  const market = { name: `definitions_${run_}.market`, password: randomBytes(12).toString('base64url') };
  const administrator = {
    name: `definitions_${run_}.admin`,
    password: randomBytes(12).toString('base64url'),
  };

  afterAll(async () => {
    for (const user of [market.name, administrator.name])
      await rabbitmqctl(['-q', 'delete_user', user]).catch(() => undefined);
    await rabbitmqctl(['-q', 'delete_vhost', vhost]).catch(() => undefined);
  });

  it('give each user its password and exactly its grant, topic permission included', async () => {
    const grant = {
      configure: '^(market\\.events|market\\.dlx)$',
      write: '^(market\\.events|rpc)$',
      read: '^market\\.dlx$',
      topic: { exchange: 'rpc', write: '^rpc-orders$', read: '^$' },
    };
    const definitions = brokerDefinitions({
      vhost,
      administrator,
      users: [{ ...market, grant }],
    });
    // through stdin: the broker node reads a file path itself, and may not see this process' /tmp
    await rabbitmqctl(['-q', 'import_definitions', '--format', 'json'], JSON.stringify(definitions));

    await expect(
      rabbitmqctl(['-q', 'authenticate_user', '--', market.name, market.password]),
    ).resolves.toBeDefined();
    await expect(rabbitmqctl(['-q', 'authenticate_user', '--', market.name, 'wrong'])).rejects.toThrow();
    await expect(
      rabbitmqctl(['-q', 'authenticate_user', '--', administrator.name, administrator.password]),
    ).resolves.toBeDefined();

    const permissions = await rabbitmqctl([
      '-q',
      'list_user_permissions',
      market.name,
      '--formatter',
      'json',
    ]);
    expect(JSON.parse(permissions.stdout)).toEqual([
      { vhost, configure: grant.configure, write: grant.write, read: grant.read },
    ]);
    const topic = await rabbitmqctl([
      '-q',
      'list_user_topic_permissions',
      market.name,
      '--formatter',
      'json',
    ]);
    expect(JSON.parse(topic.stdout)).toEqual([{ vhost, ...grant.topic }]);
    const users = await rabbitmqctl(['-q', 'list_users', '--formatter', 'json']);
    expect(JSON.parse(users.stdout)).toContainEqual({ user: administrator.name, tags: ['administrator'] });
  });
});
