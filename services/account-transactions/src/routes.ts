// account-transactions' HTTP API: accounts, customers (who may sign in) and the ledger's check.
import { ADMIN, type App, HttpError, Slots, transaction } from '@simplebank/chassis';
import { AccountIdParams, centsToDecimal, decimalToCents, ErrorCode } from '@simplebank/contracts';
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
  PasswordChange,
  Statement,
  TokenVersionView,
  UsernameParams,
} from './api.ts';
import type { AccountTransactionsContext } from './config.ts';
import { Customers } from './customers.ts';
import { CASH } from './domain/ledger.ts';
import { journal } from './journal.ts';

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

export function routes(app: App, { config, pool }: AccountTransactionsContext): void {
  const symbols = new Set(config.SYMBOLS.split(','));
  const customers = new Customers(
    new Slots(config.PASSWORD_HASHES_AT_ONCE, { maxWaiting: config.PASSWORD_HASHES_WAITING }),
  );

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

  // Customers: account-transactions owns who may sign in. Creating one takes the admin
  // credential (ADMIN); the gateway only authenticates. Passwords are never logged: the chassis
  // logs no request bodies and redacts `password`.
  app.post(
    '/customers',
    { ...ADMIN, schema: { body: NewCustomer, response: { 201: CustomerView } } },
    async ({ body }, reply) => {
      if (!(await customers.create(pool, body.username, body.password))) throw customerExists(body.username);
      return reply.status(201).send({ username: body.username });
    },
  );

  /** A customer's token version as the routes answer it; `refused` when the store had none to give. */
  const versionView = (username: string, version: number | undefined, refused: () => HttpError) => {
    if (version === undefined) throw refused();
    return { username, token_version: version };
  };
  // 200 { username, token_version } or 401 invalid_credentials, the same for an unknown username
  // and a wrong password (same answer, same work: see customers.authenticate).
  const wrongCredentials = () =>
    new HttpError(401, ErrorCode.invalidCredentials, 'wrong username or password');
  app.post(
    '/customers/authenticate',
    { schema: { body: Credentials, response: { 200: TokenVersionView } } },
    async ({ body }) =>
      versionView(
        body.username,
        await customers.authenticate(pool, body.username, body.password),
        wrongCredentials,
      ),
  );

  // Revocation (the gateway's sign-out and password change): a token carries the customer's
  // token version, and the gateway refuses those older than this.
  const unknownCustomer = (username: string) => () =>
    new HttpError(404, ErrorCode.notFound, `no customer ${username}`);
  app.get(
    '/customers/:username/token-version',
    { schema: { params: UsernameParams, response: { 200: TokenVersionView } } },
    async ({ params: { username } }) =>
      versionView(username, await customers.tokenVersion(pool, username), unknownCustomer(username)),
  );
  app.post(
    '/customers/:username/sign-out',
    { schema: { params: UsernameParams, response: { 200: TokenVersionView } } },
    async ({ params: { username } }) =>
      versionView(username, await customers.revokeTokens(pool, username), unknownCustomer(username)),
  );
  app.post(
    '/customers/:username/password',
    { schema: { params: UsernameParams, body: PasswordChange, response: { 200: TokenVersionView } } },
    async ({ params: { username }, body }) =>
      versionView(
        username,
        await customers.changePassword(pool, username, body.old_password, body.new_password),
        wrongCredentials,
      ),
  );

  // Opens a funded account (and its owner as a customer when a password comes with it): it
  // creates money, so it takes the admin credential (ADMIN); tests and load seeding send it.
  app.post(
    '/accounts',
    { ...ADMIN, schema: { body: OpenAccount, response: { 201: AccountView } } },
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
}
