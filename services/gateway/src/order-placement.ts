import { randomUUID } from 'node:crypto';
import { type Broker, HttpError, type Logger, RpcError } from '@simplebank/chassis';
import {
  centsToDecimal,
  decimalToCents,
  ErrorCode,
  type FeeEstimate,
  type FeeEstimateQuery,
  type OrderAccepted,
  type OrderSide,
  type PlaceOrderRequest,
  type PlaceOrderResult,
  RpcErrorCode,
} from '@simplebank/contracts';
import { limitPriceCents, placeOrderCommand } from './order-terms.ts';
import type { QuoteBook } from './quotes.ts';
import { segment, type Upstream } from './upstream.ts';

export interface OrderPlacementDeps {
  quotes: QuoteBook;
  accounts: Upstream;
  fees: Upstream;
  broker: Broker;
  collarBasisPoints: number;
  rpcTimeoutMs: number;
  log: Logger;
}

export type OrderPlacement = ReturnType<typeof orderPlacement>;

/** T1 from the customer's side: price the order, then hand it to orders (docs/saga.md). */
export function orderPlacement(deps: OrderPlacementDeps) {
  /** The quote → limit → fee chain, shared by the fee estimate and the order itself. */
  const estimate = async (query: FeeEstimateQuery, quoteCents: number) => {
    const limit = limitPriceCents(query.side, quoteCents, deps.collarBasisPoints);
    const fee = await deps.fees.get<FeeEstimate>('/fees/estimate', {
      query: {
        side: query.side,
        symbol: query.symbol,
        quantity: query.quantity,
        price: centsToDecimal(limit),
      },
    });
    return { limitPriceCents: limit, fee };
  };

  return {
    estimateFee: async (query: FeeEstimateQuery): Promise<FeeEstimate> =>
      (await estimate(query, await deps.quotes.priceCents(query.symbol))).fee,

    async place(side: OrderSide, request: PlaceOrderRequest): Promise<OrderAccepted> {
      // Both look-ups at once; an unknown symbol is reported before an unknown account.
      const [quote, account] = await Promise.allSettled([
        deps.quotes.priceCents(request.symbol),
        deps.accounts.get(`/accounts/${segment(request.account_id)}`, {
          notFound: new HttpError(422, ErrorCode.unknownAccount, `no account ${request.account_id}`),
        }),
      ]);
      if (quote.status === 'rejected') throw quote.reason;
      if (account.status === 'rejected') throw account.reason;

      const terms = await estimate({ side, ...request }, quote.value);
      const command = placeOrderCommand(randomUUID(), request, {
        limitPriceCents: terms.limitPriceCents,
        maxFeeCents: decimalToCents(terms.fee.fee),
      });
      const result = await deps.broker
        // the order id is the saga's correlation id: every event of this order carries it
        .call<PlaceOrderResult>('orders', side, command, deps.rpcTimeoutMs, {
          correlationId: command.orderId,
        })
        .catch((error: unknown) => {
          throw error instanceof RpcError ? httpErrorOf(error) : error;
        });
      deps.log.info(
        {
          order_id: result.orderId,
          side,
          limit_price_cents: command.limitPriceCents,
          max_fee_cents: command.maxFeeCents,
        },
        'order accepted',
      );
      return { order_id: result.orderId, status: 'created' };
    },
  };
}

const RPC_STATUS: Record<string, number> = {
  [RpcErrorCode.validationFailed]: 400,
  [ErrorCode.unknownAccount]: 422,
  [ErrorCode.unknownSymbol]: 422,
  // the gateway picks a fresh id per order, so this means a bug, but it is a conflict all the same
  order_id_conflict: 409,
  [RpcErrorCode.serviceUnavailable]: 503,
  // orders runs without this method: a deployment out of step, not the customer's fault
  [RpcErrorCode.unknownMethod]: 503,
};

/** An error orders replied with, as the customer sees it: same code, the matching status. */
export function httpErrorOf(error: RpcError): HttpError {
  return new HttpError(RPC_STATUS[error.code] ?? 500, error.code, error.message);
}
