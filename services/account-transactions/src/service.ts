import { defineService, HttpError, on, PoisonMessageError, type Tx, transaction } from '@simplebank/chassis';
import {
  AccountIdParams,
  centsToDecimal,
  decimalToCents,
  ErrorCode,
  FailureReason,
  OrderCreated,
  OrderExpired,
  OrderFailed,
  PositionReserved,
  ReservationFailed,
  TradeExecuted,
} from '@simplebank/contracts';
import { Type } from 'typebox';
import { type AccountBalances, accounts } from './accounts.ts';
import {
  AccountView,
  BalanceCheck,
  Credentials,
  CustomerView,
  NewCustomer,
  OpenAccount,
  OwnerQuery,
  Statement,
} from './api.ts';
import { customers } from './customers.ts';
import { journal } from './journal.ts';
import { CASH, release, reserve, settle } from './ledger.ts';
import { holdOf, reservations } from './reservations.ts';
import { compensationsCounter } from './saga-metrics.ts';

const AccountTransactionsConfig = Type.Object({
  /** The symbols the exchange trades; an account can only be opened with positions in these. */
  SYMBOLS: Type.String({
    pattern: '^[A-Z]{1,8}(,[A-Z]{1,8})*$',
    default: 'ACME,GLOBEX,INITECH,UMBRELLA,HOOLI',
  }),
});

/** C2: gives the whole hold back once; a release that comes first leaves a tombstone. */
/** C2; true when it released a hold (false: a tombstone, or nothing left to release). */
async function releaseHold(tx: Tx, orderId: string, accountId: string, reason: string): Promise<boolean> {
  await reservations.lockOrder(tx, orderId);
  const reservation = await reservations.find(tx, orderId);
  if (!reservation) {
    await reservations.tombstone(tx, orderId, accountId, reason);
    return false;
  }
  if (reservation.status !== 'held') return false; // released, settled, declined or void already
  const hold = holdOf(reservation);
  await journal.lockBalances(tx, hold.accountId, [CASH, hold.symbol]);
  await journal.post(tx, { accountId: hold.accountId, orderId, kind: 'release' }, release(hold));
  await reservations.close(tx, orderId, 'released', reason);
  return true;
}

const accountView = ({ account_id, owner, balances }: AccountBalances) => {
  const cash = balances.get(CASH) ?? { available: 0, reserved: 0 };
  return {
    account_id,
    owner,
    cash: { available: centsToDecimal(cash.available), reserved: centsToDecimal(cash.reserved) },
    positions: [...balances]
      .filter(([asset, { available, reserved }]) => asset !== CASH && available + reserved > 0)
      .map(([symbol, { available, reserved }]) => ({ symbol, quantity: available + reserved, reserved })),
  };
};

const unknownAccount = (accountId: string) =>
  new HttpError(404, ErrorCode.unknownAccount, `no account ${accountId}`);
const customerExists = (username: string) =>
  new HttpError(409, ErrorCode.customerExists, `customer ${username} exists already`);

export default defineService({
  name: 'account-transactions',
  version: '0.1.0',
  port: 8082,
  config: AccountTransactionsConfig,
  migrations: new URL('../migrations/', import.meta.url),
  publishes: [PositionReserved, ReservationFailed],

  // Every handler first locks the order, then the account's balance rows (in asset order).
  handlers: ({ metrics, statsd }) => {
    const c2 = compensationsCounter(metrics.registry);
    return {
      // T2
      reserve_position: on(OrderCreated, (order, { tx, publish, log }) =>
        statsd.timed('request_reservation', async () => {
          const { orderId, accountId } = order;
          await reservations.lockOrder(tx, orderId);
          if (await reservations.find(tx, orderId)) return; // reserved already, or released before it arrived
          const outcome = (await accounts.exists(tx, accountId))
            ? reserve(order, await journal.lockBalances(tx, accountId, [CASH, order.symbol]))
            : ({ ok: false, reason: FailureReason.unknownAccount } as const);
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
          afterCommit(() => c2.inc({ compensation: 'C2', reason }));
      }),
      release_expired_reservation: on(OrderExpired, async ({ orderId, accountId }, { tx, afterCommit }) => {
        if (await releaseHold(tx, orderId, accountId, 'expired')) {
          afterCommit(() => c2.inc({ compensation: 'C2', reason: 'expired' }));
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

  routes: (app, { config, pool }) => {
    const symbols = new Set(config.SYMBOLS.split(','));

    app.get(
      '/accounts/:account_id',
      { schema: { params: AccountIdParams, response: { 200: AccountView } } },
      async ({ params }) => {
        const account = await accounts.find(pool, params.account_id);
        if (!account) throw unknownAccount(params.account_id);
        return accountView(account);
      },
    );

    app.get(
      '/accounts',
      {
        schema: {
          querystring: OwnerQuery,
          response: { 200: Type.Object({ accounts: Type.Array(AccountView) }) },
        },
      },
      async ({ query }) => ({ accounts: (await accounts.ofOwner(pool, query.owner)).map(accountView) }),
    );

    // Customers: account-transactions owns who may sign in; only the gateway calls these (the
    // internal services trust the gateway and are not reachable from outside). Passwords are
    // never logged: the chassis logs no request bodies and redacts `password`.
    app.post(
      '/customers',
      { schema: { body: NewCustomer, response: { 201: CustomerView } } },
      async ({ body }, reply) => {
        if (!(await customers.create(pool, body.username, body.password)))
          throw customerExists(body.username);
        return reply.status(201).send({ username: body.username });
      },
    );

    // 200 { username } or 401 invalid_credentials, the same for an unknown username and a wrong
    // password (same answer, same work: see customers.authenticate).
    app.post(
      '/customers/authenticate',
      { schema: { body: Credentials, response: { 200: CustomerView } } },
      async ({ body }) => {
        if (!(await customers.authenticate(pool, body.username, body.password))) {
          throw new HttpError(401, ErrorCode.invalidCredentials, 'wrong username or password');
        }
        return { username: body.username };
      },
    );

    // Opens a funded account (and its owner as a customer when a password comes with it); tests
    // and load seeding use it.
    app.post(
      '/accounts',
      { schema: { body: OpenAccount, response: { 201: AccountView } } },
      async ({ body }, reply) => {
        const positions = body.positions ?? [];
        const unknown = positions.find((p) => !symbols.has(p.symbol));
        if (unknown)
          throw new HttpError(422, ErrorCode.unknownSymbol, `the exchange does not trade ${unknown.symbol}`);
        const holdings = new Map([[CASH, decimalToCents(body.cash)]]);
        for (const { symbol, quantity } of positions)
          holdings.set(symbol, (holdings.get(symbol) ?? 0) + quantity);
        await transaction(pool, async (tx) => {
          if (body.password !== undefined && !(await customers.create(tx, body.owner, body.password)))
            throw customerExists(body.owner);
          const opened = await accounts.open(tx, { accountId: body.account_id, owner: body.owner, holdings });
          if (!opened)
            throw new HttpError(409, ErrorCode.accountExists, `account ${body.account_id} exists already`);
        });
        const account = await accounts.find(pool, body.account_id);
        return reply.status(201).send(accountView(account as AccountBalances));
      },
    );

    app.get(
      '/accounts/:account_id/statement',
      { schema: { params: AccountIdParams, response: { 200: Statement } } },
      async ({ params }) => {
        const account = await accounts.find(pool, params.account_id);
        if (!account) throw unknownAccount(params.account_id);
        const lines = await journal.statement(pool, params.account_id);
        const cash = lines.find((l) => l.asset === CASH) ?? { opening: 0, fills: 0, fees: 0, closing: 0 };
        return {
          account_id: account.account_id,
          cash: {
            opening: centsToDecimal(cash.opening),
            fills: centsToDecimal(cash.fills),
            fees: centsToDecimal(cash.fees),
            closing: centsToDecimal(cash.closing),
          },
          positions: lines
            .filter((l) => l.asset !== CASH)
            .map(({ asset, opening, fills, closing }) => ({ symbol: asset, opening, fills, closing })),
        };
      },
    );

    app.get('/ledger/balance-check', { schema: { response: { 200: BalanceCheck } } }, async () => {
      const [totals, astray] = await Promise.all([journal.totals(pool), journal.bucketsAstray(pool)]);
      return {
        balanced: [...totals.values()].every((total) => total === 0),
        assets: Object.fromEntries(totals),
        balances_match_journal: astray === 0,
      };
    });
  },
});
