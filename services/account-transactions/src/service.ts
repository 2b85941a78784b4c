import {
  compensationsCounter,
  defineService,
  isProduction,
  on,
  PoisonMessageError,
} from '@simplebank/chassis';
import {
  OrderCreated,
  OrderExpired,
  OrderFailed,
  PORTS,
  PositionReserved,
  ReservationFailed,
  TradeExecuted,
} from '@simplebank/contracts';
import { accounts } from './accounts.ts';
import { AccountTransactionsConfig } from './config.ts';
import { refuseDemoCustomers, writeDemoData } from './demo.ts';
import { CASH, reserve, settle } from './domain/ledger.ts';
import { releaseHold } from './holds.ts';
import { journal } from './journal.ts';
import { holdOf, reservations } from './reservations.ts';
import { routes } from './routes.ts';

export default defineService({
  name: 'account-transactions',
  version: '0.1.0',
  port: PORTS['account-transactions'],
  config: AccountTransactionsConfig,
  migrations: new URL('../migrations/', import.meta.url),
  // Demo customers only where asked for, and never in production (demo.ts).
  prepare: async ({ config, pool, log }) => {
    if (isProduction(config)) return refuseDemoCustomers(pool, config.DEMO_DATA);
    if (!config.DEMO_DATA) return;
    const written = await writeDemoData(pool);
    if (written.length > 0) log.info({ customers: written }, 'demo customers written (DEMO_DATA=true)');
  },
  publishes: [PositionReserved, ReservationFailed],

  // Every handler first locks the order, then the account's balance rows (in asset order).
  handlers: ({ metrics, statsd }) => {
    const compensations = compensationsCounter(metrics.registry);
    return {
      // T2
      reserve_position: on(OrderCreated, (order, { tx, publish, log }) =>
        statsd.timed('request_reservation', async () => {
          const { orderId, accountId } = order;
          await reservations.lockOrder(tx, orderId);
          if (await reservations.find(tx, orderId)) return; // reserved already, or released before it arrived
          const balances = (await accounts.exists(tx, accountId))
            ? await journal.lockBalances(tx, accountId, [CASH, order.symbol])
            : null;
          const outcome = reserve(order, balances);
          if (!outcome.ok) {
            log.info({ reason: outcome.reason }, 'nothing reserved');
            await reservations.decline(tx, order, outcome.reason);
            await publish(ReservationFailed, { orderId, accountId, reason: outcome.reason });
            return;
          }
          const { hold } = outcome;
          await journal.post(tx, { accountId, orderId, kind: 'reserve' }, outcome.postings);
          await reservations.hold(tx, orderId, hold);
          await publish(PositionReserved, {
            orderId,
            accountId,
            reservedShares: hold.shares,
            reservedCashCents: hold.cashCents,
          });
        }),
      ),
      // C2
      release_reservation: on(OrderFailed, async ({ orderId, accountId, reason }, { tx, afterCommit }) => {
        if (await releaseHold(tx, orderId, accountId, reason))
          afterCommit(() => compensations.inc({ compensation: 'C2', reason }));
      }),
      release_expired_reservation: on(OrderExpired, async ({ orderId, accountId }, { tx, afterCommit }) => {
        if (await releaseHold(tx, orderId, accountId, 'expired')) {
          afterCommit(() => compensations.inc({ compensation: 'C2', reason: 'expired' }));
        }
      }),
      settle_trade: on(TradeExecuted, async (trade, { tx }) => {
        const { orderId } = trade;
        await reservations.lockOrder(tx, orderId);
        const reservation = await reservations.find(tx, orderId);
        if (reservation?.status === 'settled') return;
        // A fill without a hold means an upstream bug; park it for a person rather than guess.
        if (reservation?.status !== 'held') {
          throw new PoisonMessageError(
            `order ${orderId} has no held reservation (${reservation?.status ?? 'none'})`,
          );
        }
        const hold = holdOf(reservation);
        await journal.lockBalances(tx, hold.accountId, [CASH, hold.symbol]);
        const outcome = settle(hold, trade);
        if (!outcome.ok) throw new PoisonMessageError(`cannot settle order ${orderId}: ${outcome.reason}`);
        await journal.post(tx, { accountId: hold.accountId, orderId, kind: 'settle' }, outcome.postings);
        await reservations.close(tx, orderId, 'settled');
      }),
    };
  },

  routes,
});
