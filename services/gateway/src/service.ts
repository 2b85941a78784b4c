import { defineService } from '@simplebank/chassis';
import { GatewayConfig } from './config.ts';
import { orderPlacement } from './order-placement.ts';
import { quoteBook } from './quotes.ts';
import { createRedis, redisAnswers, redisLifecycle } from './redis.ts';
import { accountRoutes } from './routes/accounts.ts';
import { feeRoutes } from './routes/fees.ts';
import { marketRoutes } from './routes/market.ts';
import { orderRoutes } from './routes/orders.ts';
import { Upstream } from './upstream.ts';

/**
 * The public API: validates what customers send, prices orders (limit and fee allowance) and
 * hands them to orders over RPC; everything else is a query to the service that owns the data.
 */
export default defineService({
  name: 'gateway',
  version: '0.1.0',
  port: 8080,
  config: GatewayConfig,
  // no migrations: the gateway keeps nothing durable; Redis holds short-lived data only

  setup: (svc) => {
    const { config, log } = svc;
    const upstream = (name: string, url: string) => new Upstream(name, url, config.UPSTREAM_TIMEOUT_MS);
    const redis = createRedis(svc);
    return {
      redis,
      orders: upstream('orders', config.ORDERS_URL),
      accounts: upstream('account-transactions', config.ACCOUNTS_URL),
      fees: upstream('fees', config.FEES_URL),
      quotes: quoteBook(upstream('market', config.MARKET_URL), redis, log),
    };
  },

  readiness: (_svc, { redis }) => ({ redis: redisAnswers(redis) }),
  workers: (svc, { redis }) => [redisLifecycle(svc, redis)],

  routes: (app, svc, { orders, accounts, fees, quotes }) => {
    const { config, log } = svc;
    // built here, not in setup: the broker is connected only after setup
    const placement = orderPlacement({
      quotes,
      accounts,
      fees,
      broker: svc.broker,
      collarBasisPoints: config.PRICE_COLLAR_BASIS_POINTS,
      rpcTimeoutMs: config.RPC_TIMEOUT_MS,
      log,
    });

    orderRoutes(app, placement, orders);
    accountRoutes(app, accounts, quotes, log);
    marketRoutes(app, quotes);
    feeRoutes(app, placement);
  },
});
