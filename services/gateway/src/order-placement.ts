import { type Broker, HttpError, type Logger, RpcError } from '@simplebank/chassis';
import {
  centsToDecimal,
  decimalToCents,
  ErrorCode,
  type FeeEstimate,
  type FeeEstimateQuery,
  type Order,
  type OrderAccepted,
  type OrderSide,
  type PlaceOrderRequest,
  type PlaceOrderResult,
  RpcErrorCode,
} from '@simplebank/contracts';
import { keyReused } from './idempotency.ts';
import { limitPriceCents, placeOrderCommand } from './order-terms.ts';
import type { Owners } from './owners.ts';
import type { QuoteBook } from './quotes.ts';
import { segment, type Upstream } from './upstream.ts';

export interface OrderPlacementDeps {
  quotes: QuoteBook;
  accounts: Upstream;
  owners: Owners;
  orders: Upstream;
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

    /**
     * Places `customer`'s order under `orderId` (random, or derived from an Idempotency-Key when
     * `keyed`). An account the customer does not own is a 422 unknown_account, as one that does
     * not exist.
     */
    async place(
      side: OrderSide,
      request: PlaceOrderRequest,
      { customer, orderId, keyed }: { customer: string; orderId: string; keyed: boolean },
    ): Promise<OrderAccepted> {
      const unknownAccount = new HttpError(422, ErrorCode.unknownAccount, `no account ${request.account_id}`);
      // Both look-ups at once; an unknown symbol is reported before an unknown account.
      const [quote, account] = await Promise.allSettled([
        deps.quotes.priceCents(request.symbol),
        deps.accounts.get<{ owner: string }>(`/accounts/${segment(request.account_id)}`, {
          notFound: unknownAccount,
        }),
      ]);
      if (quote.status === 'rejected') throw quote.reason;
      if (account.status === 'rejected') throw account.reason;
      deps.owners.remember(request.account_id, account.value.owner);
      if (account.value.owner !== customer) throw unknownAccount;

      const terms = await estimate({ side, ...request }, quote.value);
      const command = placeOrderCommand(orderId, request, {
        limitPriceCents: terms.limitPriceCents,
        maxFeeCents: decimalToCents(terms.fee.fee),
      });
      const result = await deps.broker
        // the order id is the saga's correlation id: every event of this order carries it. The
        // gateway chose it, and orders answers the same command again with the same order, so
        // the call is idempotent: tried again when orders does not answer in time.
        .call<PlaceOrderResult>('orders', side, command, deps.rpcTimeoutMs, {
          correlationId: command.orderId,
          idempotent: true,
        })
        .catch(async (error: unknown) => {
          // A keyed order that exists already with other terms: an earlier try of this key got
          // through (its answer was lost, or the key's record expired) at an older quote.
          if (keyed && error instanceof RpcError && error.code === 'order_id_conflict')
            return sameOrderOrRefuse(side, request, command.orderId);
          throw error instanceof RpcError ? httpErrorOf(error) : error;
        });
      deps.log.info(
        {
          order_id: result.orderId,
          customer,
          side,
          limit_price_cents: command.limitPriceCents,
          max_fee_cents: command.maxFeeCents,
        },
        'order accepted',
      );
      return { order_id: result.orderId, status: 'created' };
    },
  };

  /** The existing order when it is this request's (same account, side, symbol and quantity). */
  async function sameOrderOrRefuse(
    side: OrderSide,
    request: PlaceOrderRequest,
    orderId: string,
  ): Promise<PlaceOrderResult> {
    const existing = await deps.orders.get<Order>(`/orders/${segment(orderId)}`);
    const same =
      existing.account_id === request.account_id &&
      existing.side === side &&
      existing.symbol === request.symbol &&
      existing.quantity === request.quantity;
    if (!same) throw keyReused();
    return { orderId, status: 'created' };
  }
}

const RPC_STATUS: Record<string, number> = {
  [RpcErrorCode.validationFailed]: 400,
  [ErrorCode.unknownAccount]: 422,
  [ErrorCode.unknownSymbol]: 422,
  // the gateway picks a fresh id per order, so this means a bug, but it is a conflict all the same
  order_id_conflict: 409,
  [ErrorCode.orderNotFound]: 404,
  [ErrorCode.orderNotCancelable]: 409,
  [RpcErrorCode.serviceUnavailable]: 503,
  // orders runs without this method: a deployment out of step, not the customer's fault
  [RpcErrorCode.unknownMethod]: 503,
};

/** An error orders replied with, as the customer sees it: same code, the matching status. */
export function httpErrorOf(error: RpcError): HttpError {
  return new HttpError(RPC_STATUS[error.code] ?? 500, error.code, error.message);
}
