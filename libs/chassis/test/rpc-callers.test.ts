import { randomUUID } from 'node:crypto';
import {
  Broker,
  brokerUser,
  command,
  createLogger,
  createMetrics,
  defineService,
  RpcError,
  type RunningService,
  rabbitmqctl,
  startService,
} from '@simplebank/chassis';
import { testEnvironment } from '@simplebank/chassis/testing';
import { rpcRoutes } from '@simplebank/contracts';
import pg from 'pg';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The contracts name one RPC route, gateway → orders. A server named orders, with every service
// its own broker user (`<prefix>.<service>`), must answer the gateway's user and no other.
const PREFIX = 'simplebank_test_chassis_rpc_callers';
const ran: string[] = [];

const orders = defineService({
  name: 'orders',
  version: '0.0.0',
  port: 0,
  migrations: new URL('./fixtures/migrations/', import.meta.url),
  rpc: () => ({
    /** Records the order, in memory and in the database: whether the handler ran. */
    touch: command(Type.Object({ orderId: Type.String() }), async ({ orderId }, { tx }) => {
      ran.push(orderId);
      await tx.query('INSERT INTO effects (order_id) VALUES ($1)', [orderId]);
      return { touched: orderId };
    }),
  }),
});

let env: Record<string, string>;
let db: pg.Pool;
let server: RunningService;
const clients: Broker[] = [];

beforeAll(async () => {
  env = await testEnvironment('chassis-rpc-callers');
  db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
  const all = { configure: '.*', write: '.*', read: '.*' };
  const amqpUrl = await brokerUser(env.AMQP_URL as string, `${PREFIX}.orders`, all);
  server = await startService(orders, { env: { ...env, AMQP_URL: amqpUrl }, listen: false });
});

afterAll(async () => {
  for (const client of clients) await client.close();
  await server?.stop();
  await db?.end();
});

/** An RPC client connected as `<prefix>.<service>`, with the permissions a pure RPC client gets. */
async function callerAs(service: string): Promise<Broker> {
  const url = await brokerUser(env.AMQP_URL as string, `${PREFIX}.${service}`, {
    configure: `^(rpc|${service}\\.dlx)$`,
    write: `^(rpc|${service}\\.dlx)$`,
    read: '^(amq\\.rabbitmq\\.reply-to)$',
  });
  const log = createLogger(service, 'silent');
  const broker = new Broker(url, service, log, createMetrics(service), {
    publishes: [],
    retry: { attempts: 1, delaysMs: [] },
  });
  clients.push(broker);
  return broker;
}

const effectsFor = async (orderId: string) =>
  (await db.query('SELECT count(*)::int AS n FROM effects WHERE order_id = $1', [orderId])).rows[0]
    .n as number;

describe('an RPC server, to callers the contracts do not name (rpcRoutes)', () => {
  it('answers forbidden, and its method does not run', async () => {
    expect(rpcRoutes.filter((r) => r.server === 'orders').map((r) => r.client)).toEqual(['gateway']);
    const market = await callerAs('market');
    const orderId = randomUUID();
    const error = await market.call('orders', 'touch', { orderId }, 5000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({
      code: 'forbidden',
      message: `broker user ${PREFIX}.market may not call orders`,
    });
    expect(ran).not.toContain(orderId);
    expect(await effectsFor(orderId)).toBe(0);
  });

  it('answers the caller they name, whose call runs (the same request, the same server)', async () => {
    const gateway = await callerAs('gateway');
    const orderId = randomUUID();
    expect(await gateway.call('orders', 'touch', { orderId }, 5000)).toEqual({ touched: orderId });
    expect(ran).toContain(orderId);
    expect(await effectsFor(orderId)).toBe(1);
  });
});

describe('a broker user', () => {
  it('is made with a password that begins with "-", which rabbitmqctl would otherwise read as an option', async () => {
    const user = `${PREFIX}.dash`;
    const url = await brokerUser(
      env.AMQP_URL as string,
      user,
      { configure: '^$', write: '^$', read: '^$' },
      '-dash-pw',
    );
    expect(new URL(url).password).toBe('-dash-pw');
    await expect(rabbitmqctl(['-q', 'authenticate_user', '--', user, '-dash-pw'])).resolves.toBeDefined();
    await expect(rabbitmqctl(['-q', 'authenticate_user', '--', user, 'wrong'])).rejects.toThrow();
  });
});
