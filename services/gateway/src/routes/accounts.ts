import { type App, HttpError, type Logger } from '@simplebank/chassis';
import { Account, AccountIdParams, AccountList, ErrorCode } from '@simplebank/contracts';
import { Type } from 'typebox';
import { type HeldPosition, pricesOf, valuePositions } from '../domain/portfolio.ts';
import { requireCustomer, signedIn } from '../edge/auth.ts';
import type { Owners } from '../upstream/owners.ts';
import type { QuoteBook } from '../upstream/quotes.ts';
import { segment, type Upstream } from '../upstream/upstream.ts';

type AccountRecord = Omit<Account, 'positions'> & { positions: HeldPosition[] };

export function accountRoutes(
  app: App,
  { accounts, owners, quotes, log }: { accounts: Upstream; owners: Owners; quotes: QuoteBook; log: Logger },
): void {
  // Balances are still worth showing while market is away: positions are then unvalued.
  const prices = () =>
    quotes.board().then(pricesOf, (error: unknown) => {
      log.warn({ error }, 'no quotes to value positions with');
      return new Map<string, number>();
    });
  const valued = (account: AccountRecord, priced: Map<string, number>): Account => ({
    ...account,
    positions: valuePositions(account.positions, priced),
  });

  // The signed-in customer's accounts (whose, is the token's to say: no query parameters).
  app.get(
    '/accounts',
    {
      preParsing: requireCustomer,
      schema: {
        querystring: Type.Object({}, { additionalProperties: false }),
        response: { 200: AccountList },
      },
    },
    async (request): Promise<AccountList> => {
      const customer = signedIn(request);
      const [list, priced] = await Promise.all([
        accounts.get<{ accounts: AccountRecord[] }>('/accounts', { query: { owner: customer } }),
        prices(),
      ]);
      return { accounts: list.accounts.map((account) => valued(account, priced)) };
    },
  );

  // One account, only for its owner: anyone else's is answered as one that does not exist.
  app.get(
    '/accounts/:account_id',
    { preParsing: requireCustomer, schema: { params: AccountIdParams, response: { 200: Account } } },
    async (request): Promise<Account> => {
      const { account_id } = request.params;
      const unknown = new HttpError(404, ErrorCode.unknownAccount, `no account ${account_id}`);
      const [account, priced] = await Promise.all([
        accounts.get<AccountRecord>(`/accounts/${segment(account_id)}`, { notFound: unknown }),
        prices(),
      ]);
      owners.remember(account_id, account.owner);
      if (account.owner !== signedIn(request)) throw unknown;
      return valued(account, priced);
    },
  );
}
