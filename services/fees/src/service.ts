import { compensationsCounter, defineService, HttpError, on } from '@simplebank/chassis';
import {
  ChargeFailed,
  centsToDecimal,
  decimalToCents,
  ErrorCode,
  FeeCharged,
  FeeEstimate,
  type FeeSchedule,
  FeeScheduleBody,
  feeEstimate,
  feeScheduleBody,
  OrderCreated,
  OrderExpired,
  OrderFailed,
  OrderIdParams,
  OrderSide,
  PORTS,
  QuantityParam,
  SymbolParam,
} from '@simplebank/contracts';
import { type Static, Type } from 'typebox';
import { charges } from './charges.ts';
import { decideCharge } from './domain/fee-schedule.ts';

const FeesConfig = Type.Object({
  FEE_FIXED_CENTS: Type.Integer({ minimum: 0, default: 100 }),
  FEE_RATE_BASIS_POINTS: Type.Integer({ minimum: 0, maximum: 10_000, default: 25 }),
  FEE_MINIMUM_CENTS: Type.Integer({ minimum: 0, default: 250 }),
});

const EstimateQuery = Type.Object(
  {
    side: OrderSide,
    symbol: SymbolParam,
    quantity: QuantityParam,
    /** The price the order would be valued at (the gateway sends the order's limit). */
    price: Type.String({ pattern: '^\\d{1,13}(\\.\\d{1,2})?$' }),
  },
  { additionalProperties: false },
);

const scheduleOf = (config: Static<typeof FeesConfig>): FeeSchedule => ({
  fixedCents: config.FEE_FIXED_CENTS,
  rateBasisPoints: config.FEE_RATE_BASIS_POINTS,
  minimumCents: config.FEE_MINIMUM_CENTS,
});

export default defineService({
  name: 'fees',
  version: '0.1.0',
  port: PORTS.fees,
  config: FeesConfig,
  migrations: new URL('../migrations/', import.meta.url),
  publishes: [FeeCharged, ChargeFailed],
  setup: ({ config }) => ({ schedule: scheduleOf(config) }),

  handlers: ({ metrics, statsd }, { schedule }) => {
    const compensations = compensationsCounter(metrics.registry);
    return {
      // T3
      charge_fee: on(OrderCreated, (order, { tx, publish, log }) =>
        statsd.timed('charge_fee', async () => {
          await charges.lockOrder(tx, order.orderId);
          if (await charges.find(tx, order.orderId)) return; // already charged, or failed before we got here
          const decision = decideCharge(schedule, order);
          const { orderId, accountId } = order;
          if (decision.charge) {
            await charges.record(tx, { orderId, accountId, feeCents: decision.feeCents, status: 'charged' });
            await publish(FeeCharged, { orderId, accountId, feeCents: decision.feeCents });
          } else {
            log.info({ reason: decision.reason }, 'fee not charged');
            await charges.record(tx, {
              orderId,
              accountId,
              feeCents: 0,
              status: 'declined',
              reason: decision.reason,
            });
            await publish(ChargeFailed, { orderId, accountId, reason: decision.reason });
          }
        }),
      ),
      // C3
      refund_fee: on(OrderFailed, async ({ orderId, accountId, reason }, { tx, afterCommit }) => {
        if ((await charges.refund(tx, orderId, accountId, reason)) === 'refunded') {
          afterCommit(() => compensations.inc({ compensation: 'C3', reason }));
        }
      }),
      refund_expired_fee: on(OrderExpired, async ({ orderId, accountId }, { tx, afterCommit }) => {
        if ((await charges.refund(tx, orderId, accountId, 'expired')) === 'refunded') {
          afterCommit(() => compensations.inc({ compensation: 'C3', reason: 'expired' }));
        }
      }),
    };
  },

  routes: (app, { pool }, { schedule }) => {
    app.get(
      '/fees/estimate',
      { schema: { querystring: EstimateQuery, response: { 200: FeeEstimate } } },
      async ({ query }) => feeEstimate(schedule, { ...query, priceCents: decimalToCents(query.price) }),
    );
    // what the gateway quotes fees from (it fetches it in the background)
    app.get('/fees/schedule', { schema: { response: { 200: FeeScheduleBody } } }, async () =>
      feeScheduleBody(schedule),
    );
    app.get('/fees/charges/:order_id', { schema: { params: OrderIdParams } }, async ({ params }) => {
      const charge = await charges.ofOrder(pool, params.order_id);
      if (!charge) throw new HttpError(404, ErrorCode.notFound, `no charge for order ${params.order_id}`);
      return {
        order_id: charge.order_id,
        account_id: charge.account_id,
        fee: centsToDecimal(charge.fee_cents),
        status: charge.status,
        reason: charge.reason,
      };
    });
  },
});
