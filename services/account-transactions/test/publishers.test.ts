import { randomUUID } from 'node:crypto';
import { brokerUser, handlerQueue, ParkingLot, type RunningService, startService } from '@simplebank/chassis';
import {
  adminHeaders,
  metricValue,
  publishEvent,
  publishRaw,
  testEnvironment,
  waitFor,
} from '@simplebank/chassis/testing';
import {
  brokerPermissions,
  brokerServices,
  type Envelope,
  OrderCreated,
  rpcTopicPermission,
  TradeExecuted,
} from '@simplebank/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import accountTransactions from '../src/service.ts';

// Each service its own broker user, with the permissions the contracts give it (as in compose and
// Kubernetes), named `<vhost>.<service>`: account-transactions derives its producers' users from
// its own. A fill is money: only market may announce one.
const SUITE = 'account_transactions_publishers';
const VHOST = `simplebank_test_${SUITE}`;
const settleQueue = handlerQueue(TradeExecuted, 'account-transactions', 'settle_trade');

let service: RunningService;
let adminUrl: string;
const urls: Record<string, string> = {};

beforeAll(async () => {
  const env = await testEnvironment(SUITE);
  adminUrl = env.AMQP_URL as string;
  await Promise.all(
    brokerServices.map(async (name) => {
      urls[name] = await brokerUser(adminUrl, `${VHOST}.${name}`, {
        ...brokerPermissions(name),
        topic: rpcTopicPermission(name),
      });
    }),
  );
  // the gateway as every service was before: the broker's one user, allowed everything
  urls.everything = await brokerUser(adminUrl, `${VHOST}.gateway-as-before`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
  service = await startService(accountTransactions, {
    env: { ...env, AMQP_URL: urls['account-transactions'] as string },
    listen: false,
  });
}, 60_000); // rabbitmqctl starts an Erlang VM for each call

afterAll(() => service?.stop());

const accountOf = async (accountId: string) =>
  (await service.app.inject({ url: `/accounts/${accountId}` })).json();

/** An account holding ACME with a sell of 10 reserved (T2), through orders' own user. */
async function reservedSell() {
  const accountId = `acc-${randomUUID().slice(0, 8)}`;
  const opened = await service.app.inject({
    method: 'POST',
    url: '/accounts',
    headers: adminHeaders,
    payload: {
      account_id: accountId,
      owner: 'tester',
      cash: '1000.00',
      positions: [{ symbol: 'ACME', quantity: 100 }],
    },
  });
  expect(opened.statusCode).toBe(201);
  const order = { ...OrderCreated.example, orderId: randomUUID(), accountId };
  await publishEvent(urls.orders as string, OrderCreated, order);
  await waitFor(`the reservation of ${order.orderId}`, async () => {
    const { rows } = await service.context.pool.query('SELECT status FROM reservations WHERE order_id = $1', [
      order.orderId,
    ]);
    return rows[0]?.status === 'held';
  });
  // 10 ACME at 1e9 cents each: 100 million of money, if anyone but market could say so
  const trade = {
    ...TradeExecuted.example,
    orderId: order.orderId,
    accountId,
    fillPriceCents: 1_000_000_000,
  };
  return { accountId, order, trade };
}

/** The messages parked from `queue`, with their reasons (read and put back). */
async function parked(queue: string): Promise<{ id: string; reason: string }[]> {
  const lot = await ParkingLot.connect(adminUrl);
  try {
    return (await lot.show(queue, 100)).map((m) => ({ id: String(m.id), reason: String(m.reason) }));
  } finally {
    await lot.close();
  }
}

const handled = (envelope: Envelope) =>
  waitFor(`${envelope.type} ${envelope.id} to be handled`, async () => {
    const { rowCount } = await service.context.pool.query('SELECT 1 FROM inbox WHERE message_id = $1', [
      envelope.id,
    ]);
    return rowCount === 1;
  });

describe('publishers: each service is only what it is', () => {
  it("the gateway's broker user may not publish a TradeExecuted: not to market's exchange, nor to the handler queue through the default or rpc exchange", async () => {
    const gateway = urls.gateway as string;
    const { trade } = await reservedSell();
    const body = { ...TradeExecuted.example, ...trade };
    const refused = /ACCESS_REFUSED|refused/i;
    await expect(
      publishRaw(gateway, TradeExecuted.exchange, TradeExecuted.routingKey, body, { declare: false }),
    ).rejects.toThrow(refused);
    await expect(publishRaw(gateway, '', settleQueue, body, { declare: false })).rejects.toThrow(refused);
    // the rpc exchange (which it may declare): its topic permission lets it reach rpc-orders only
    await expect(publishRaw(gateway, 'rpc', settleQueue, body)).rejects.toThrow(refused);
    // nor may it pretend to be market
    await expect(
      publishRaw(gateway, 'rpc', 'rpc-orders', body, { userId: `${VHOST}.market` }),
    ).rejects.toThrow(/PRECONDITION_FAILED|user_id/i);
  });

  it('a TradeExecuted that a broker lets through from anyone but market is parked with the reason, and moves no money', async () => {
    const { accountId, trade } = await reservedSell();
    const before = await accountOf(accountId);
    // the gateway with every permission (one user for all, as before), and fees, which may write
    // to the default exchange (its retries) and so straight into account-transactions' queue
    const forged = await publishEvent(urls.everything as string, TradeExecuted, trade);
    await publishRaw(
      urls.fees as string,
      '',
      settleQueue,
      { ...forged, id: randomUUID() },
      { declare: false },
    );
    // and one with no user_id at all
    await publishRaw(
      adminUrl,
      TradeExecuted.exchange,
      TradeExecuted.routingKey,
      { ...forged, id: randomUUID() },
      { userId: null },
    );
    const reasons = await waitFor('the three forgeries to be parked', async () => {
      const found = await parked(settleQueue);
      return found.length >= 3 ? found.map((p) => p.reason).sort() : undefined;
    });
    expect(reasons).toEqual(
      [
        `publisher: broker user ${VHOST}.gateway-as-before may not publish a TradeExecuted; it comes from market (broker user ${VHOST}.market)`,
        `publisher: broker user ${VHOST}.fees may not publish a TradeExecuted; it comes from market (broker user ${VHOST}.market)`,
        `publisher: no user_id; a TradeExecuted comes from market (broker user ${VHOST}.market)`,
      ].sort(),
    );
    expect(await accountOf(accountId)).toEqual(before);

    // the control: the same fill from market settles (the check refuses who, not what)
    const genuine = await publishEvent(urls.market as string, TradeExecuted, trade);
    await handled(genuine);
    const after = await accountOf(accountId);
    expect(after.cash).not.toEqual(before.cash);

    // replayed (the same message id again): handled as a duplicate, and nothing changes
    const duplicates = () =>
      metricValue(service, 'message_handler_duration_seconds_count', {
        queue: settleQueue,
        outcome: 'duplicate',
      });
    const duplicatesBefore = await duplicates();
    await publishEvent(urls.market as string, TradeExecuted, trade, { id: genuine.id });
    await waitFor('the replay to be recognised', async () => (await duplicates()) > duplicatesBefore);
    expect(await accountOf(accountId)).toEqual(after);
    expect((await parked(settleQueue)).filter((p) => p.id === genuine.id)).toEqual([]);
  });
});
