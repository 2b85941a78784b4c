import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, defineService, HttpError, type Logger, Poller } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import { type Static, Type } from 'typebox';
import { SimulatedExchange } from './exchange.ts';
import { isOutage, isRejected } from './faults.ts';
import { DEFAULT_SYMBOLS, parseSymbols } from './prices.ts';

const Rate = Type.Number({ minimum: 0, maximum: 1 });
const Millis = Type.Integer({ minimum: 0, maximum: 3_600_000 });

const ExchangeConfig = Type.Object({
  LATENCY_MS: Type.Integer({ minimum: 0, default: 0 }),
  ERROR_RATE: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  REJECT_RATE: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  FILL_DELAY_MS: Type.Integer({ minimum: 0, default: 200 }),
  ORDER_TTL_MS: Type.Integer({ minimum: 1, default: 30_000 }),
  PRICE_STEP_MS: Type.Integer({ minimum: 10, default: 500 }),
  /** `SYMBOL:opening price,...` */
  SYMBOLS: Type.String({ default: DEFAULT_SYMBOLS }),
});
type ExchangeConfig = Static<typeof ExchangeConfig>;

const SymbolName = Type.String({ pattern: '^[A-Z]{1,8}$' });
const PlaceOrder = Type.Object(
  {
    client_order_id: Type.String({ minLength: 1, maxLength: 100 }),
    side: Type.Union([Type.Literal('buy'), Type.Literal('sell')]),
    symbol: SymbolName,
    quantity: Type.Integer({ minimum: 1 }),
    limit_price_cents: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
const FaultChanges = Type.Object(
  {
    latency_ms: Type.Optional(Millis),
    error_rate: Type.Optional(Rate),
    reject_rate: Type.Optional(Rate),
    fill_delay_ms: Type.Optional(Millis),
    order_ttl_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000 })),
  },
  { additionalProperties: false },
);
const ExecutionsQuery = Type.Object({
  after: Type.Integer({ minimum: 0, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
});

/** How often resting orders are matched against the current prices. */
const MATCH_EVERY_MS = 20;

/** The simulated exchange, at its opening prices and with the configured faults. */
function openExchange(config: ExchangeConfig): SimulatedExchange {
  let openings: Map<string, number>;
  try {
    openings = parseSymbols(config.SYMBOLS);
  } catch (error) {
    throw new ConfigError(`Invalid configuration: SYMBOLS ${(error as Error).message}`);
  }
  const faults = {
    latency_ms: config.LATENCY_MS,
    error_rate: config.ERROR_RATE,
    reject_rate: config.REJECT_RATE,
    fill_delay_ms: config.FILL_DELAY_MS,
    order_ttl_ms: config.ORDER_TTL_MS,
  };
  return new SimulatedExchange(openings, faults, Date.now());
}

/** Runs `tick` every `ms`; a tick leaves nothing over, so a pass never asks to run again at once. */
const every = (what: string, ms: number, log: Logger, tick: () => void): Poller => {
  const pass = async () => {
    tick();
    return false;
  };
  return new Poller(what, ms, pass, log);
};

/** The external stock exchange, simulated in memory, with faults to inject at run time. */
export default defineService({
  name: 'stock-exchange',
  version: '0.1.0',
  port: 8090,
  config: ExchangeConfig,
  broker: false,
  // its own /admin/faults injects the exchange's faults; the chassis' handler switch has nothing to act on
  adminFaults: false,

  // one exchange per running instance, shared by the routes and the clock that moves it
  setup: (svc) => openExchange(svc.config),

  workers: ({ config, log }, exchange) => [
    every('stepping prices', config.PRICE_STEP_MS, log, () => exchange.stepPrices(Date.now(), Math.random)),
    every('matching open orders', MATCH_EVERY_MS, log, () => exchange.matchOpenOrders(Date.now())),
  ],

  routes: (app, _svc, exchange) => {
    const quoteOrThrow = <Q>(symbol: string, quote: Q | undefined): Q => {
      if (!quote) throw new HttpError(404, ErrorCode.unknownSymbol, `no such symbol ${symbol}`);
      return quote;
    };

    // Trading requests feel the injected latency and outages; admin requests never do.
    const trading = {
      preHandler: async () => {
        if (exchange.faults.latency_ms > 0) await sleep(exchange.faults.latency_ms);
        if (isOutage(exchange.faults, Math.random)) {
          throw new HttpError(503, 'exchange_unavailable', 'the exchange is not taking requests');
        }
      },
    };

    app.post('/orders', { ...trading, schema: { body: PlaceOrder } }, async ({ body }, reply) => {
      const held = exchange.order(body.client_order_id);
      if (!held && !exchange.hasSymbol(body.symbol)) {
        throw new HttpError(422, ErrorCode.unknownSymbol, `no such symbol ${body.symbol}`);
      }
      if (isRejected(exchange.faults, held !== undefined, Math.random)) {
        throw new HttpError(422, 'order_rejected', 'the exchange rejected the order');
      }
      const order = held ?? exchange.accept(body, Date.now());
      return reply.status(201).send({ exchange_order_id: order.exchangeOrderId });
    });

    app.get(
      '/orders/:client_order_id',
      { schema: { params: Type.Object({ client_order_id: Type.String() }) } },
      async ({ params }) => {
        const order = exchange.order(params.client_order_id);
        if (!order) throw new HttpError(404, ErrorCode.orderNotFound, `no order ${params.client_order_id}`);
        return {
          exchange_order_id: order.exchangeOrderId,
          client_order_id: order.clientOrderId,
          side: order.side,
          symbol: order.symbol,
          quantity: order.quantity,
          limit_price_cents: order.limitPriceCents,
          status: order.status,
          fill_price_cents: order.fillPriceCents ?? null,
          placed_at: new Date(order.placedAt).toISOString(),
        };
      },
    );

    app.get('/executions', { ...trading, schema: { querystring: ExecutionsQuery } }, async ({ query }) => ({
      epoch: exchange.epoch,
      executions: exchange.executionsAfter(query.after, query.limit),
    }));

    app.get('/quotes', trading, async () => ({ quotes: exchange.quotes() }));

    app.get('/admin/faults', async () => exchange.faults);
    app.put('/admin/faults', { schema: { body: FaultChanges } }, async ({ body }) =>
      exchange.setFaults(body),
    );

    const SymbolParams = { params: Type.Object({ symbol: SymbolName }) };
    // at most the contracts' bound on a price, so every fill at it is one market can announce
    const PinnedPrice = Type.Object({ price_cents: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }) });
    app.put(
      '/admin/prices/:symbol',
      { schema: { ...SymbolParams, body: PinnedPrice } },
      async ({ params, body }) =>
        quoteOrThrow(params.symbol, exchange.pin(params.symbol, body.price_cents, Date.now())),
    );
    app.delete('/admin/prices/:symbol', { schema: SymbolParams }, async ({ params }) =>
      quoteOrThrow(params.symbol, exchange.unpin(params.symbol)),
    );
  },
});
