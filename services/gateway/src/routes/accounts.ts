import { type App, HttpError, type Logger } from '@simplebank/chassis';
import { Account, AccountIdParams, ErrorCode } from '@simplebank/contracts';
import { type HeldPosition, pricesOf, valuePositions } from '../portfolio.ts';
import type { QuoteBook } from '../quotes.ts';
import { segment, type Upstream } from '../upstream.ts';

type AccountRecord = Omit<Account, 'positions'> & { positions: HeldPosition[] };

export function accountRoutes(app: App, accounts: Upstream, quotes: QuoteBook, log: Logger): void {
  app.get(
    '/accounts/:account_id',
    { schema: { params: AccountIdParams, response: { 200: Account } } },
    async ({ params }): Promise<Account> => {
      const [account, prices] = await Promise.all([
        accounts.get<AccountRecord>(`/accounts/${segment(params.account_id)}`, {
          notFound: new HttpError(404, ErrorCode.unknownAccount, `no account ${params.account_id}`),
        }),
        // Balances are still worth showing while market is away: positions are then unvalued.
        quotes.board().then(pricesOf, (error: unknown) => {
          log.warn({ error }, 'no quotes to value positions with');
          return new Map<string, number>();
        }),
      ]);
      return { ...account, positions: valuePositions(account.positions, prices) };
    },
  );
}
