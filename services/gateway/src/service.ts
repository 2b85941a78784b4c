import { type App, defineService, listen } from '@simplebank/chassis';
import { OrderStatusChanged, PORTS } from '@simplebank/contracts';
import { orderCancel } from './commands/order-cancel.ts';
import { orderPlacement } from './commands/order-placement.ts';
import { checkSecrets, GatewayConfig } from './config.ts';
import { Tokens } from './edge/auth.ts';
import { IdempotencyKeys } from './edge/idempotency.ts';
import { protect } from './edge/protection.ts';
import { TokenVersions } from './edge/revocation.ts';
import { SignInGuard } from './edge/sign-in-guard.ts';
import { createRedis, redisAnswers, redisLifecycle } from './redis.ts';
import { accountRoutes } from './routes/accounts.ts';
import { apiDocs } from './routes/api-docs.ts';
import { authRoutes } from './routes/auth.ts';
import { feeRoutes } from './routes/fees.ts';
import { liveRoutes, OrderNewsHub } from './routes/live.ts';
import { marketRoutes } from './routes/market.ts';
import { orderRoutes } from './routes/orders.ts';
import { screen } from './routes/screen.ts';
import { credentialChecker } from './upstream/credentials.ts';
import { feeSchedule } from './upstream/fee-schedule.ts';
import { Owners } from './upstream/owners.ts';
import { QuoteBook } from './upstream/quotes.ts';
import { Upstream } from './upstream/upstream.ts';

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
  port: PORTS.gateway,
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
    const orders = upstream('orders', config.ORDERS_URL);
    const owners = new Owners(accounts);
    // held in memory and fetched in the background, so that pricing an order asks nobody
    const fees = feeSchedule(upstream('fees', config.FEES_URL), config.FEE_SCHEDULE_REFRESH_MS, log);
    const quotes = new QuoteBook(
      upstream('market', config.MARKET_URL),
      { refreshMs: config.QUOTES_REFRESH_MS, maxAgeMs: config.QUOTES_MAX_AGE_MS },
      log,
    );
    const rpcTimeoutMs = config.RPC_TIMEOUT_MS;
    return {
      // Sign-in's own way to account-transactions: its own breaker, so a sign-in flood that
      // opens it leaves ownership checks (and so order placement) alone; and no retry, which
      // would double the password hashing under the load that made the first attempt time out.
      signInAccounts: new Upstream(
        'account-transactions-sign-in',
        config.ACCOUNTS_URL,
        config.UPSTREAM_TIMEOUT_MS,
        svc,
        {
          retries: 0,
        },
      ),
      redis,
      tokens: new Tokens(config.JWT_SECRET, config.JWT_TTL_SECONDS),
      versions: new TokenVersions(
        accounts,
        config.TOKEN_VERSION_FRESH_MS,
        config.TOKEN_VERSION_STALE_MS,
        log,
      ),
      orders,
      accounts,
      owners,
      feeSchedule: fees,
      quotes,
      placement: orderPlacement({
        quotes,
        owners,
        feeSchedule: fees,
        orders,
        broker: svc.broker,
        collarBasisPoints: config.PRICE_COLLAR_BASIS_POINTS,
        rpcTimeoutMs,
        log,
      }),
      cancel: orderCancel({ broker: svc.broker, orders, rpcTimeoutMs, log }),
      idempotency: new IdempotencyKeys(redis, log),
      news: new OrderNewsHub(),
    };
  },

  // Every instance hears every order's status change, for the screens connected to it (live.ts).
  listeners: (_svc, { news }) => ({
    push_order_status: listen(OrderStatusChanged, (change) => news.publish(change)),
  }),

  // Without Redis it still serves: rate limits stop applying and Idempotency-Keys fall back to
  // the order id (README, "What survives which failure"); the broker is the chassis' soft check.
  degradedWithout: (_svc, { redis }) => ({ redis: redisAnswers(redis) }),
  workers: (svc, { redis, quotes, feeSchedule }) => [redisLifecycle(svc, redis), quotes, feeSchedule],

  routes: async (
    app,
    svc,
    {
      redis,
      tokens,
      versions,
      orders,
      signInAccounts,
      owners,
      quotes,
      idempotency,
      news,
      accounts,
      placement,
      cancel,
    },
  ) => {
    const { config, log, metrics } = svc;
    // before the routes it documents; then the screen, outside the API's rate limits
    await apiDocs(app, '0.1.0');
    await screen(app, { jaegerUiUrl: config.JAEGER_UI_URL });

    // The public API in a context of its own: back-pressure, tokens and rate limits apply to it
    // (the chassis' health, version and metrics routes are on the operations listener anyway).
    await app.register(async (context) => {
      const api = context as unknown as App;
      const { orderLimit, signInFailures } = await protect(api, config, { tokens, versions, redis, log });
      authRoutes(api, {
        tokens,
        versions,
        accounts,
        checkCredentials: credentialChecker(signInAccounts),
        rateLimit: { max: config.AUTH_RATE_LIMIT_MAX, timeWindow: config.RATE_LIMIT_WINDOW_MS },
        guard: new SignInGuard(signInFailures, redis, log),
        log,
      });
      orderRoutes(api, { placement, cancel, orders, owners, idempotency, timers: svc.statsd, orderLimit });
      accountRoutes(api, { accounts, owners, quotes, log });
      marketRoutes(api, quotes);
      feeRoutes(api, placement);
      liveRoutes(api, {
        owners,
        quotes,
        news,
        versions,
        quotesIntervalMs: config.LIVE_QUOTES_INTERVAL_MS,
        heartbeatMs: config.LIVE_HEARTBEAT_MS,
        maxStreamsPerCustomer: config.LIVE_MAX_STREAMS_PER_CUSTOMER,
        registry: metrics.registry,
        log,
      });
    });
  },
});
