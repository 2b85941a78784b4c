import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  defineService,
  handlerQueue,
  ParkingLot,
  type RunningService,
  selectHandlerQueues,
  startService,
  vhostOf,
} from '@simplebank/chassis';
import { adminHeaders, publishEvent, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import { OrderCreated } from '@simplebank/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import counter from './fixtures/counter-service.ts';

const queue = handlerQueue(OrderCreated, 'chassis-fixture', 'count');
const parkedTool = fileURLToPath(new URL('../../../scripts/parked.ts', import.meta.url));
let env: Record<string, string>;
let service: RunningService;
let lot: ParkingLot;

beforeAll(async () => {
  env = await testEnvironment('chassis_parking');
  // every handler run fails from the start (the fault switch, set from the environment)
  service = await startService(counter, {
    env: { ...env, HANDLER_ATTEMPTS: '2', RETRY_DELAYS_MS: '20', FAULT_HANDLER_FAILURE_RATE: '1' },
    listen: false,
  });
  lot = await ParkingLot.connect(env.AMQP_URL as string);
});

afterAll(async () => {
  await lot?.close();
  await service?.stop();
});

const effectsFor = async (orderId: string) =>
  (await service.context.pool.query('SELECT count(*)::int AS n FROM effects WHERE order_id = $1', [orderId]))
    .rows[0].n as number;
const setFaults = (faults: object) =>
  service.app.inject({ method: 'PUT', headers: adminHeaders, url: '/admin/faults', payload: faults });
const newOrder = () => ({ ...OrderCreated.example, orderId: randomUUID() });
const parked = (n: number) => waitFor(`${n} parked messages`, async () => (await lot.count(queue)) === n);
/** Runs `pnpm parked …` as a person would (the script itself; the chassis is already built). */
const parkedCliWith = async (extra: Record<string, string>, ...args: string[]) =>
  (
    await promisify(execFile)(process.execPath, [parkedTool, ...args], {
      env: { ...process.env, AMQP_URL: env.AMQP_URL, ...extra },
    })
  ).stdout;
const parkedCli = (...args: string[]) => parkedCliWith({}, ...args);
/** The local broker's management API (.ci/run enables the plugin), as compose publishes its own. */
const MANAGEMENT_URL = process.env.TEST_RABBITMQ_MANAGEMENT_URL ?? 'http://127.0.0.1:15672';

describe('the fault switch', () => {
  it('is set from the environment and changed at run time through /admin/faults', async () => {
    expect((await service.app.inject({ headers: adminHeaders, url: '/admin/faults' })).json()).toEqual({
      handler_delay_ms: 0,
      handler_failure_rate: 1,
    });
    const bad = await setFaults({ handler_failure_rate: 2 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('validation_failed');
    expect((await setFaults({ handler_colour: 'red' })).statusCode).toBe(400);
  });

  it('slows each handler by the delay', async () => {
    expect((await setFaults({ handler_delay_ms: 300, handler_failure_rate: 0 })).json()).toEqual({
      handler_delay_ms: 300,
      handler_failure_rate: 0,
    });
    try {
      const order = newOrder();
      const sent = Date.now();
      await publishEvent(env.AMQP_URL as string, OrderCreated, order);
      await waitFor('the slowed handler', async () => (await effectsFor(order.orderId)) === 1);
      expect(Date.now() - sent).toBeGreaterThanOrEqual(300);
    } finally {
      await setFaults({ handler_delay_ms: 0, handler_failure_rate: 1 });
    }
  });

  it('is not served by a service that has its own (adminFaults: false)', async () => {
    const bare = (adminFaults?: boolean) =>
      startService(defineService({ name: 'bare', version: '0.0.0', port: 0, broker: false, adminFaults }), {
        env,
        listen: false,
      });
    const without = await bare(false);
    const with_ = await bare(undefined);
    try {
      expect((await without.app.inject({ headers: adminHeaders, url: '/admin/faults' })).statusCode).toBe(
        404,
      );
      expect((await with_.app.inject({ headers: adminHeaders, url: '/admin/faults' })).statusCode).toBe(200);
    } finally {
      await without.stop();
      await with_.stop();
    }
  });
});

describe('parked messages', () => {
  it('a failing handler parks its messages; shown, they stay, in their order', async () => {
    const first = newOrder();
    const second = newOrder();
    const envelope = await publishEvent(env.AMQP_URL as string, OrderCreated, first);
    await parked(1);
    await publishEvent(env.AMQP_URL as string, OrderCreated, second);
    await parked(2);

    const shown = await lot.show(queue, 10);
    expect(shown.map((m) => (m.body as { payload: { orderId: string } }).payload.orderId)).toEqual([
      first.orderId,
      second.orderId,
    ]);
    expect(shown[0]).toMatchObject({
      id: envelope.id,
      type: 'OrderCreated',
      attempts: 2,
      reason: expect.stringMatching(/failed 2 times; last error: injected fault/),
      parkedAt: expect.any(String),
    });
    // shown, not taken: still there, still in their order
    expect(await lot.count(queue)).toBe(2);
    expect((await lot.show(queue, 1)).map((m) => m.id)).toEqual([envelope.id]);
    expect(await lot.count(queue)).toBe(2);

    const listed = await parkedCli('list');
    expect(listed).toContain(`${queue}.dlq  2`);
    // where no rabbitmqctl reaches the broker (compose's, in its container): its management API
    const noRabbitmqctl = { PATH: mkdtempSync(join(tmpdir(), 'no-rabbitmqctl-')) };
    expect(await parkedCliWith({ ...noRabbitmqctl, RABBITMQ_MANAGEMENT_URL: MANAGEMENT_URL }, 'list')).toBe(
      listed,
    );
    // the user the management URL names, not the AMQP URL's, when it names one
    const stranger = new URL(MANAGEMENT_URL);
    stranger.username = 'nobody';
    stranger.password = 'wrong';
    await expect(
      parkedCliWith({ ...noRabbitmqctl, RABBITMQ_MANAGEMENT_URL: stranger.href }, 'list'),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('answered 401') });
    await expect(parkedCliWith(noRabbitmqctl, 'list')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining(
        'set RABBITMQ_MANAGEMENT_URL (the compose stack: http://127.0.0.1:15672)',
      ),
    });
    const printed = await parkedCli('show', '--queue', 'chassis-fixture', '--limit', '1');
    expect(printed).toContain(`id:        ${envelope.id}`);
    expect(printed).toContain('reason:    failed 2 times; last error: injected fault');
    expect(await lot.count(queue)).toBe(2);
    expect(await effectsFor(first.orderId)).toBe(0);
  });

  it('once the cause is fixed, replay moves them back and each is handled once', async () => {
    const [first, second] = (await lot.show(queue, 10)).map(
      (m) => (m.body as { payload: { orderId: string } }).payload.orderId,
    ) as [string, string];
    await setFaults({ handler_failure_rate: 0 }); // the cause, fixed

    expect(await lot.replay(queue, 1)).toBe(1);
    await waitFor('the first to be handled', async () => (await effectsFor(first)) === 1);
    expect(await lot.count(queue)).toBe(1);

    expect(await parkedCli('replay', '--queue', `${queue}.dlq`)).toBe('moved 1 message\n');
    await waitFor('the second to be handled', async () => (await effectsFor(second)) === 1);
    expect(await lot.count(queue)).toBe(0);
    // handled once each: the handler queue is empty and nothing came back to the parking lot
    await waitFor('the handler queue to be empty', async () => {
      const declared = await service.context.broker.connection.queueDeclare({ queue, passive: true });
      return declared.messageCount === 0;
    });
    expect(await effectsFor(first)).toBe(1);
    expect(await effectsFor(second)).toBe(1);
    expect(await lot.count(queue)).toBe(0);
  });

  it('replay leaves parked what was first published before the inbox’s retention window', async () => {
    await setFaults({ handler_failure_rate: 1 });
    const order = newOrder();
    await publishEvent(env.AMQP_URL as string, OrderCreated, order);
    await parked(1);
    await setFaults({ handler_failure_rate: 0 });
    // a window that began after it was published: its inbox row, had it one, could be gone
    expect(await lot.replay(queue, undefined, { publishedSince: new Date(Date.now() + 60_000) })).toBe(0);
    await parked(1);
    expect(await lot.replay(queue, undefined, { publishedSince: new Date(Date.now() - 3_600_000) })).toBe(1);
    await waitFor('it to be handled', async () => (await effectsFor(order.orderId)) === 1);
    expect(await lot.count(queue)).toBe(0);
  });

  it('discard drops them', async () => {
    await setFaults({ handler_failure_rate: 1 });
    const order = newOrder();
    await publishEvent(env.AMQP_URL as string, OrderCreated, order);
    await parked(1);
    expect(await parkedCli('discard', '--queue', queue)).toBe('discarded 1 message\n');
    expect(await lot.count(queue)).toBe(0);
    expect(await effectsFor(order.orderId)).toBe(0);
    expect(await lot.discard(queue)).toBe(0);
  });

  it('names the queues to work on by handler queue, dead-letter queue or service', () => {
    const all = [
      'evt-orders-order_created--fees.charge_fee',
      'evt-orders-order_created--fees.charge_fee.dlq',
      'evt-orders-order_created--fees.charge_fee.retry.1',
      'evt-market-order_failed--fees.refund_fee.dlq',
      'evt-orders-order_created--market.track_order.dlq',
      'rpc-orders',
    ];
    expect(selectHandlerQueues([], all)).toEqual([
      'evt-market-order_failed--fees.refund_fee',
      'evt-orders-order_created--fees.charge_fee',
      'evt-orders-order_created--market.track_order',
    ]);
    expect(selectHandlerQueues(['fees'], all)).toEqual([
      'evt-market-order_failed--fees.refund_fee',
      'evt-orders-order_created--fees.charge_fee',
    ]);
    expect(selectHandlerQueues(['evt-orders-order_created--market.track_order.dlq'], [])).toEqual([
      'evt-orders-order_created--market.track_order',
    ]);
    expect(() => selectHandlerQueues(['nobody'], all)).toThrow(
      /no handler queues of a service named "nobody"/,
    );
    expect(vhostOf('amqp://guest:guest@127.0.0.1:5672')).toBe('/');
    expect(vhostOf('amqp://guest:guest@127.0.0.1:5672/simplebank_test_x')).toBe('simplebank_test_x');
    expect(vhostOf('amqp://h/%2F')).toBe('/');
  });
});
