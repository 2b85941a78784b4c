import { type App, defineService, listen } from '@simplebank/chassis';
import { OrderStatusChanged } from '@simplebank/contracts';
import { apiDocs } from './api-docs.ts';
import { Tokens } from './auth.ts';
import { checkSecrets, GatewayConfig } from './config.ts';
import { credentialChecker } from './credentials.ts';
import { feeSchedule } from './fee-schedule.ts';
import { IdempotencyKeys } from './idempotency.ts';
import { liveRoutes, OrderNewsHub } from './live.ts';
import { orderCancel } from './order-cancel.ts';
import { orderPlacement } from './order-placement.ts';
import { Owners } from './owners.ts';
import { protect } from './protection.ts';
import { QuoteBook } from './quotes.ts';
import { createRedis, redisAnswers, redisLifecycle } from './redis.ts';
import { accountRoutes } from './routes/accounts.ts';
import { authRoutes } from './routes/auth.ts';
import { feeRoutes } from './routes/fees.ts';
import { marketRoutes } from './routes/market.ts';
import { orderRoutes } from './routes/orders.ts';
import { screen } from './screen.ts';
import { Upstream } from './upstream.ts';

/**
 * The public API and the system's edge: signs customers in, checks their tokens, rate limits and
 * back-pressure, and that a customer only touches their own accounts and orders; validates what
 * customers send, prices orders (limit and fee allowance) and hands them to orders over RPC;
 * everything else is a query to the service that owns the data. The services behind it trust it
 * and are not reachable from outside (README, "Security").
 */
export default defineService({
  name: 'gateway',
  version: '0.1.0',
  port: 8080,
  config: GatewayConfig,
  // no migrations: the gateway keeps nothing durable; Redis holds short-lived data only
  // it faces the outside: no /admin routes, and no caller's x-budget-ms is trusted
  public: true,

  setup: (svc) => {
    const { config, log } = svc;
    checkSecrets(config);
    const upstream = (name: string, url: string) => new Upstream(name, url, config.UPSTREAM_TIMEOUT_MS, svc);
    const redis = createRedis(svc);
    const accounts = upstream('account-transactions', config.ACCOUNTS_URL);
    return {
      redis,
      tokens: new Tokens(config.JWT_SECRET, config.JWT_TTL_SECONDS),
      orders: upstream('orders', config.ORDERS_URL),
      accounts,
      owners: new Owners(accounts),
      // held in memory and fetched in the background, so that pricing an order asks nobody
      feeSchedule: feeSchedule(upstream('fees', config.FEES_URL), config.FEE_SCHEDULE_REFRESH_MS, log),
      quotes: new QuoteBook(
        upstream('market', config.MARKET_URL),
        { refreshMs: config.QUOTES_REFRESH_MS, maxAgeMs: config.QUOTES_MAX_AGE_MS },
        log,
      ),
      idempotency: new IdempotencyKeys(redis, log),
      news: new OrderNewsHub(),
    };
  },

  // Every instance hears every order's status change, for the screens connected to it (live.ts).
  listeners: (_svc, { news }) => ({
    push_order_status: listen(OrderStatusChanged, (change) => news.publish(change)),
  }),

  readiness: (_svc, { redis }) => ({ redis: redisAnswers(redis) }),
  workers: (svc, { redis, quotes, feeSchedule }) => [redisLifecycle(svc, redis), quotes, feeSchedule],

  routes: async (
    app,
    svc,
    { redis, tokens, orders, accounts, owners, feeSchedule, quotes, idempotency, news },
  ) => {
    const { config, log, broker } = svc;
    // before the routes it documents; then the screen, outside the API's rate limits
    await apiDocs(app, '0.1.0');
    await screen(app, { jaegerUiUrl: config.JAEGER_UI_URL });
    // built here, not in setup: the broker is connected only after setup
    const placement = orderPlacement({
      quotes,
      owners,
      feeSchedule,
      orders,
      broker,
      collarBasisPoints: config.PRICE_COLLAR_BASIS_POINTS,
      rpcTimeoutMs: config.RPC_TIMEOUT_MS,
      log,
    });
    const cancel = orderCancel({ broker, orders, rpcTimeoutMs: config.RPC_TIMEOUT_MS, log });

    // The public API in a context of its own: back-pressure, tokens and rate limits apply to it,
    // not to the chassis's health, version and metrics routes (an overloaded gateway is alive).
    await app.register(async (context) => {
      const api = context as unknown as App;
      await protect(api, config, { tokens, redis });
      authRoutes(api, {
        tokens,
        checkCredentials: credentialChecker(accounts),
        rateLimit: { max: config.AUTH_RATE_LIMIT_MAX, timeWindow: config.RATE_LIMIT_WINDOW_MS },
        log,
      });
      orderRoutes(api, { placement, cancel, orders, owners, idempotency, timers: svc.statsd });
      accountRoutes(api, { accounts, owners, quotes, log });
      marketRoutes(api, quotes);
      feeRoutes(api, placement);
      liveRoutes(api, {
        owners,
        quotes,
        news,
        quotesIntervalMs: config.LIVE_QUOTES_INTERVAL_MS,
        heartbeatMs: config.LIVE_HEARTBEAT_MS,
        log,
      });
    });
  },
});
