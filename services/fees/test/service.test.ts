import { randomUUID } from 'node:crypto';
import { type RunningService, transaction } from '@simplebank/chassis';
import {
  type EventProbe,
  metricValue,
  outboxDrained,
  publishEvent,
  type ServiceUnderTest,
  serviceUnderTest,
  waitFor,
} from '@simplebank/chassis/testing';
import { ChargeFailed, FeeCharged, OrderCreated, OrderFailed } from '@simplebank/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { charges } from '../src/charges.ts';
import fees from '../src/service.ts';

let service: RunningService;
let probe: EventProbe;
let amqpUrl: string;

let underTest: ServiceUnderTest;

beforeAll(async () => {
  underTest = await serviceUnderTest(fees, 'fees', [FeeCharged, ChargeFailed]);
  ({ service, probe, amqpUrl } = underTest);
});

afterAll(() => underTest?.stop());

/** saga_compensations_total for one compensation and reason; 0 before the first. */
const compensations = (compensation: string, reason: string) =>
  metricValue(service, 'saga_compensations_total', { compensation, reason });

const chargeOf = async (orderId: string) => {
  const response = await service.app.inject({ method: 'GET', url: `/fees/charges/${orderId}` });
  return response.statusCode === 200 ? response.json() : undefined;
};

/** Everything fees has published so far has reached the probe. */
const drained = () => outboxDrained(service, probe, amqpUrl, FeeCharged);

describe('fees service (real RabbitMQ and PostgreSQL)', () => {
  it('T3: charges the fee for a new order and announces it', async () => {
    const order = { ...OrderCreated.example, orderId: randomUUID() };
    await publishEvent(amqpUrl, OrderCreated, order);
    const charged = await probe.next(FeeCharged, (p) => p.orderId === order.orderId);
    // 10 × 95.00 = 950.00 → 1.00 + 2.38 = 3.38
    expect(charged.payload.feeCents).toBe(338);
    expect(charged.correlationId).toBe(order.orderId);
    expect(FeeCharged.validate(charged.payload)).toBeUndefined();
    expect(await chargeOf(order.orderId)).toMatchObject({ fee: '3.38', status: 'charged' });
  });

  it('charges once when the broker redelivers the same message', async () => {
    const order = { ...OrderCreated.example, orderId: randomUUID() };
    const envelope = await publishEvent(amqpUrl, OrderCreated, order);
    await publishEvent(amqpUrl, OrderCreated, order, { id: envelope.id });
    await probe.next(FeeCharged, (p) => p.orderId === order.orderId);
    const { rows } = await service.context.pool.query(
      `SELECT count(*) AS handled FROM inbox WHERE message_id = $1`,
      [envelope.id],
    );
    expect(rows[0].handled).toBe(1);
    await drained(); // so a second FeeCharged would be in by now
    expect(
      probe.received.filter((e) => (e.payload as { orderId: string }).orderId === order.orderId),
    ).toHaveLength(1);
  });

  it('declines a fee above what the customer was quoted', async () => {
    const order = { ...OrderCreated.example, orderId: randomUUID(), maxFeeCents: 100 };
    await publishEvent(amqpUrl, OrderCreated, order);
    const failed = await probe.next(ChargeFailed, (p) => p.orderId === order.orderId);
    expect(failed.payload.reason).toBe('fee_above_quoted_maximum');
  });

  it('C3: refunds a charged fee when the order fails, once', async () => {
    const order = { ...OrderCreated.example, orderId: randomUUID() };
    await publishEvent(amqpUrl, OrderCreated, order);
    await probe.next(FeeCharged, (p) => p.orderId === order.orderId);
    const failure = { orderId: order.orderId, accountId: order.accountId, reason: 'exchange_rejected' };
    const counted = await compensations('C3', 'exchange_rejected');
    await publishEvent(amqpUrl, OrderFailed, failure);
    const again = await publishEvent(amqpUrl, OrderFailed, failure);
    const charge = await waitFor('the refund', async () => {
      const c = await chargeOf(order.orderId);
      return c?.status === 'refunded' ? c : undefined;
    });
    expect(charge.reason).toBe('exchange_rejected');
    // Counted once: the second OrderFailed finds nothing left to refund.
    await waitFor('the second OrderFailed to be handled', async () => {
      const { rowCount } = await service.context.pool.query('SELECT 1 FROM inbox WHERE message_id = $1', [
        again.id,
      ]);
      return rowCount === 1;
    });
    await waitFor('C3 to be counted', async () => (await compensations('C3', 'exchange_rejected')) > counted);
    expect(await compensations('C3', 'exchange_rejected')).toBe(counted + 1);
  });

  it('never charges an order that failed before its OrderCreated arrived', async () => {
    const order = { ...OrderCreated.example, orderId: randomUUID() };
    await publishEvent(amqpUrl, OrderFailed, {
      orderId: order.orderId,
      accountId: order.accountId,
      reason: 'insufficient_shares',
    });
    await waitFor('the tombstone', async () => (await chargeOf(order.orderId))?.status === 'void');
    const created = await publishEvent(amqpUrl, OrderCreated, order);
    await waitFor('OrderCreated to be handled', async () => {
      const { rowCount } = await service.context.pool.query('SELECT 1 FROM inbox WHERE message_id = $1', [
        created.id,
      ]);
      return rowCount === 1;
    });
    expect(await chargeOf(order.orderId)).toMatchObject({ status: 'void', fee: '0.00' });
    await drained(); // so a FeeCharged or ChargeFailed would be in by now
    expect(probe.received.some((e) => (e.payload as { orderId: string }).orderId === order.orderId)).toBe(
      false,
    );
  });

  it('C3 on an order being charged at that moment waits for the charge, then refunds it', async () => {
    const { orderId, accountId } = { ...OrderCreated.example, orderId: randomUUID() };
    const { pool } = service.context;
    const charging = await pool.connect();
    try {
      // T3 has found no charge and is about to record one when the order's OrderFailed is handled
      await charging.query('BEGIN');
      await charges.lockOrder(charging, orderId);
      expect(await charges.find(charging, orderId)).toBeUndefined();
      const refund = transaction(pool, (tx) => charges.refund(tx, orderId, accountId, 'exchange_rejected'));
      await waitFor(
        'the refund to wait for the order lock',
        async () => {
          const { rowCount } = await pool.query(
            `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          );
          return rowCount === 1;
        },
        { timeoutMs: 3_000 },
      );
      await charges.record(charging, { orderId, accountId, feeCents: 338, status: 'charged' });
      await charging.query('COMMIT');
      expect(await refund).toBe('refunded');
    } finally {
      charging.release();
    }
    expect(await chargeOf(orderId)).toMatchObject({ status: 'refunded', fee: '3.38' });
  });

  it('estimates the fee for the UI, and rejects bad queries with a 400', async () => {
    const ok = await service.app.inject({
      url: '/fees/estimate?side=sell&symbol=ACME&quantity=10&price=95.00',
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({
      side: 'sell',
      symbol: 'ACME',
      quantity: 10,
      price: '95.00',
      value: '950.00',
      fee: '3.38',
    });
    const bad = await service.app.inject({
      url: '/fees/estimate?side=sell&symbol=ACME&quantity=-1&price=95.00',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('validation_failed');
  });
});
