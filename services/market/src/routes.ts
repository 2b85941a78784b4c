import { type App, HttpError, type ServiceContext } from '@simplebank/chassis';
import { centsToDecimal, ErrorCode, OrderIdParams, Quote, Quotes, SymbolParam } from '@simplebank/contracts';
import { Type } from 'typebox';
import type { MarketConfig } from './config.ts';
import type { ExchangeQuote } from './exchange/exchange-client.ts';
import { placements } from './store/placements.ts';
import type { QuoteBoard } from './store/quotes.ts';
import { tradeBreaks } from './store/trade-breaks.ts';

const quoteOf = (quote: ExchangeQuote): Quote => ({
  symbol: quote.symbol,
  price: centsToDecimal(quote.priceCents),
  at: quote.at.toISOString(),
});

/** Quotes for the gateway, and what operators read of placements and trade breaks. */
export function routes(app: App, svc: ServiceContext<MarketConfig>, { board }: { board: QuoteBoard }) {
  app.get('/market/quotes', { schema: { response: { 200: Quotes } } }, async () => ({
    quotes: board.all().map(quoteOf),
  }));
  app.get(
    '/market/quotes/:symbol',
    { schema: { params: Type.Object({ symbol: SymbolParam }), response: { 200: Quote } } },
    async ({ params }) => {
      const quote = board.get(params.symbol);
      if (!quote) throw new HttpError(404, ErrorCode.unknownSymbol, `no quote for ${params.symbol}`);
      return quoteOf(quote);
    },
  );
  // Operations (prometheus/RUNBOOK.md, "TradeBreak"): fills for orders our books had ended, and their resolution
  app.get('/market/trade-breaks', async () => ({
    trade_breaks: (await tradeBreaks.list(svc.pool)).map((b) => ({
      order_id: b.orderId,
      account_id: b.accountId,
      placement_status: b.placementStatus,
      exchange_order_id: b.exchangeOrderId,
      side: b.side,
      symbol: b.symbol,
      quantity: b.quantity,
      fill_price: centsToDecimal(b.fillPriceCents),
      detected_at: b.detectedAt.toISOString(),
      resolved_at: b.resolvedAt?.toISOString() ?? null,
      resolution: b.resolution,
    })),
  }));
  app.post(
    '/market/trade-breaks/:order_id/resolve',
    {
      schema: {
        params: OrderIdParams,
        body: Type.Object(
          { resolution: Type.String({ minLength: 1, maxLength: 1000 }) },
          { additionalProperties: false },
        ),
      },
    },
    async ({ params, body }) => {
      if (!(await tradeBreaks.resolve(svc.pool, params.order_id, body.resolution)))
        throw new HttpError(404, 'trade_break_not_found', `no open trade break for order ${params.order_id}`);
      return { order_id: params.order_id, resolved: true };
    },
  );
  app.get('/market/placements/:order_id', { schema: { params: OrderIdParams } }, async ({ params }) => {
    const placement = await placements.find(svc.pool, params.order_id, { lock: false });
    if (!placement)
      throw new HttpError(404, ErrorCode.orderNotFound, `no placement for order ${params.order_id}`);
    return {
      order_id: placement.orderId,
      account_id: placement.accountId,
      status: placement.status,
      reason: placement.reason,
      prerequisites: {
        order_created: placement.orderCreated,
        position_reserved: placement.positionReserved,
        fee_charged: placement.feeCharged,
      },
      ready_at: placement.readyAt?.toISOString() ?? null,
      attempts: placement.attempts,
      in_doubt: placement.inDoubt,
      cancel_requested: placement.cancelRequested,
      exchange_order_id: placement.exchangeOrderId,
      fill_price: placement.fillPriceCents === null ? null : centsToDecimal(placement.fillPriceCents),
    };
  });
}
