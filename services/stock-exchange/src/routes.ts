import { setTimeout as sleep } from 'node:timers/promises';
import { type App, HttpError, type ServiceContext } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import { Type } from 'typebox';
import { type BookOrder, book } from './book.ts';
import type { ExchangeConfig, setUpExchange } from './config.ts';
import { isOutage, isRejected } from './domain/faults.ts';

const Rate = Type.Number({ minimum: 0, maximum: 1 });
const Millis = Type.Integer({ minimum: 0, maximum: 3_600_000 });

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

/** How the API shows an order of the book. */
const orderView = (order: BookOrder) => ({
  exchange_order_id: order.exchangeOrderId,
  client_order_id: order.clientOrderId,
  side: order.side,
  symbol: order.symbol,
  quantity: order.quantity,
  limit_price_cents: order.limitPriceCents,
  status: order.status,
  fill_price_cents: order.fillPriceCents,
  placed_at: order.placedAt?.toISOString() ?? null,
});

/** The exchange's API: trading (orders, executions, quotes) and its administration (faults, prices). */
export function routes(
  app: App,
  { pool }: ServiceContext<ExchangeConfig>,
  exchange: ReturnType<typeof setUpExchange>,
) {
  const { prices } = exchange;
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
    const held = await book.order(pool, body.client_order_id);
    if (!held && !prices.has(body.symbol)) {
      throw new HttpError(422, ErrorCode.unknownSymbol, `no such symbol ${body.symbol}`);
    }
    if (isRejected(exchange.faults, held !== undefined, Math.random)) {
      throw new HttpError(422, 'order_rejected', 'the exchange rejected the order');
    }
    const terms = { fillDelayMs: exchange.faults.fill_delay_ms, ttlMs: exchange.faults.order_ttl_ms };
    const order = held ?? (await book.accept(pool, body, new Date(), terms));
    if (order.status === 'withdrawn') {
      // cancelled by its sender (before it arrived, or while it rested): never taken again
      throw new HttpError(409, 'order_withdrawn', `order ${body.client_order_id} was withdrawn`);
    }
    return reply.status(201).send({ exchange_order_id: order.exchangeOrderId as string });
  });

  const ClientOrderParams = { params: Type.Object({ client_order_id: Type.String({ maxLength: 100 }) }) };
  app.get('/orders/:client_order_id', { ...trading, schema: ClientOrderParams }, async ({ params }) => {
    const order = await book.order(pool, params.client_order_id);
    if (!order) throw new HttpError(404, ErrorCode.orderNotFound, `no order ${params.client_order_id}`);
    return orderView(order);
  });

  // A cancel: withdrawn if it rested (or never arrived), else filled or expired already; never both.
  app.delete('/orders/:client_order_id', { ...trading, schema: ClientOrderParams }, async ({ params }) =>
    orderView(await book.withdraw(pool, params.client_order_id, new Date())),
  );

  app.get('/executions', { ...trading, schema: { querystring: ExecutionsQuery } }, async ({ query }) => ({
    epoch: await book.epoch(pool),
    executions: await book.executionsAfter(pool, query.after, query.limit),
  }));

  app.get('/quotes', trading, async () => ({ quotes: prices.quotes() }));

  app.get('/admin/faults', async () => exchange.faults);
  app.put('/admin/faults', { schema: { body: FaultChanges } }, async ({ body }) => {
    exchange.faults = { ...exchange.faults, ...body };
    return exchange.faults;
  });

  const SymbolParams = { params: Type.Object({ symbol: SymbolName }) };
  // at most the contracts' bound on a price, so every fill at it is one market can announce
  const PinnedPrice = Type.Object({ price_cents: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }) });
  app.put(
    '/admin/prices/:symbol',
    { schema: { ...SymbolParams, body: PinnedPrice } },
    async ({ params, body }) =>
      quoteOrThrow(params.symbol, prices.pin(params.symbol, body.price_cents, Date.now())),
  );
  app.delete('/admin/prices/:symbol', { schema: SymbolParams }, async ({ params }) =>
    quoteOrThrow(params.symbol, prices.unpin(params.symbol)),
  );
}
