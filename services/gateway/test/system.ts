import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import accountTransactions from '@simplebank/account-transactions';
import { type RunningService, startService } from '@simplebank/chassis';
import { freshDatabase, waitFor } from '@simplebank/chassis/testing';
import feesService from '@simplebank/fees';
import marketService from '@simplebank/market';
import ordersService from '@simplebank/orders';
import stockExchange from '@simplebank/stock-exchange';
import { DEVELOPMENT_JWT_SECRET } from '../src/config.ts';
import { Tokens } from '../src/edge/auth.ts';
import gateway from '../src/service.ts';

export const urlOf = ({ app }: RunningService): string =>
  `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

/** Tokens as the gateway under test signs them (the development secret, unless a test sets one). */
export const tokens = new Tokens(DEVELOPMENT_JWT_SECRET, 900);
export const bearer = async (username: string) => ({
  authorization: `Bearer ${await tokens.issue(username)}`,
});

/**
 * account-transactions on a fresh database of `suite`'s, listening on a port of its own, with the
 * demo customers (alice, bob, carol).
 */
export async function startAccounts(env: Record<string, string>, suite: string): Promise<RunningService> {
  const database = await freshDatabase(`simplebank_test_${suite}_accounts`);
  return startService(accountTransactions, {
    env: { ...env, DATABASE_URL: database, PORT: '0', DEMO_DATA: 'true' },
    listen: true,
  });
}

export interface System {
  exchange: RunningService;
  market: RunningService;
  orders: RunningService;
  fees: RunningService;
  accounts: RunningService;
  gateway: RunningService;
  /** The gateway's Redis prefix. */
  prefix: string;
  stop(): Promise<void>;
}

/**
 * Every service of the saga in this process, each started with the chassis as in production, on
 * databases of its own, all in the suite's vhost: the stock exchange, market, orders, fees,
 * account-transactions, and a gateway in front of them (not listening unless `listen`: tests use
 * `inject`; streams need a socket).
 */
export async function startSystem(
  env: Record<string, string>,
  suite: string,
  gatewayEnv: Record<string, string> = {},
  { listen = false }: { listen?: boolean } = {},
): Promise<System> {
  const [marketDb, ordersDb, feesDb, exchangeDb] = await Promise.all(
    ['market', 'orders', 'fees', 'exchange'].map((name) => freshDatabase(`simplebank_test_${suite}_${name}`)),
  );
  const listening = { ...env, PORT: '0' };
  const exchange = await startService(stockExchange, {
    env: { ...listening, DATABASE_URL: exchangeDb, FILL_DELAY_MS: '100' },
    listen: true,
  });
  const market = await startService(marketService, {
    env: { ...listening, DATABASE_URL: marketDb, EXCHANGE_URL: urlOf(exchange) },
    listen: true,
  });
  const orders = await startService(ordersService, {
    env: { ...listening, DATABASE_URL: ordersDb },
    listen: true,
  });
  const fees = await startService(feesService, { env: { ...listening, DATABASE_URL: feesDb }, listen: true });
  const accounts = await startAccounts(env, suite);
  const prefix = `gateway-test-${randomUUID()}:`;
  const gatewayService = await startService(gateway, {
    env: {
      ...env,
      REDIS_PREFIX: prefix,
      ORDERS_URL: urlOf(orders),
      ACCOUNTS_URL: urlOf(accounts),
      FEES_URL: urlOf(fees),
      MARKET_URL: urlOf(market),
      ...(listen ? { PORT: '0' } : {}),
      ...gatewayEnv,
    },
    listen,
  });
  await waitFor('market to have quotes', async () => {
    const response = await market.app.inject({ method: 'GET', url: '/market/quotes' });
    return response.statusCode === 200 && response.json().quotes.length > 0;
  });
  return {
    exchange,
    market,
    orders,
    fees,
    accounts,
    gateway: gatewayService,
    prefix,
    async stop() {
      for (const service of [gatewayService, orders, market, fees, accounts, exchange]) await service.stop();
    },
  };
}
