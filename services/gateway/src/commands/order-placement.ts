import { type Broker, HttpError, type Logger, RpcError } from '@simplebank/chassis';
import {
  decimalToCents,
  ErrorCode,
  type FeeEstimate,
  type FeeEstimateQuery,
  type FeeSchedule,
  feeEstimate,
  type Order,
  type OrderAccepted,
  type OrderSide,
  type PlaceOrderRequest,
  type PlaceOrderResult,
  RpcErrorCode,
} from '@simplebank/contracts';
import { limitPriceCents, placeOrderCommand } from '../domain/order-terms.ts';
import { keyReused } from '../edge/idempotency.ts';
import type { Owners } from '../upstream/owners.ts';
import type { QuoteBook } from '../upstream/quotes.ts';
import type { Refreshed } from '../upstream/refreshed.ts';
import { segment, type Upstream } from '../upstream/upstream.ts';

export interface OrderPlacementDeps {
  quotes: QuoteBook;
  owners: Owners;
  feeSchedule: Refreshed<FeeSchedule>;
  orders: Upstream;
  broker: Broker;
  collarBasisPoints: number;
  rpcTimeoutMs: number;
  log: Logger;
}

export type OrderPlacement = ReturnType<typeof orderPlacement>;

/** What a placed order is answered with, first time or again (the order id says which order). */
export const accepted = (orderId: string): OrderAccepted => ({ order_id: orderId, status: 'created' });

/**
 * T1 from the customer's side: price the order, then hand it to orders (docs/saga.md). Everything
 * but that hand-over comes from memory when it can: the quote from the board (quotes.ts), the fee
 * from fees' schedule (fee-schedule.ts), the account's owner from `Owners` (an owner never
 * changes); only a miss asks the service that owns it.
 */
export function orderPlacement(deps: OrderPlacementDeps) {
  /**
   * Orders said it is at capacity, and has not yet taken an order since: new orders are refused
   * here, except one every `AT_CAPACITY_PROBE_MS`, which asks orders whether it still is.
   */
  let atCapacity = false;
  let nextProbeAt = 0;
  /** The quote → limit → fee chain, shared by the fee estimate and the order itself. */
  const estimate = async (query: FeeEstimateQuery, quoteCents: number) => {
    const limit = limitPriceCents(query.side, quoteCents, deps.collarBasisPoints);
    const { value: schedule } = await deps.feeSchedule.get();
    return { limitPriceCents: limit, fee: feeEstimate(schedule, { ...query, priceCents: limit }) };
  };

  return {
    /**
     * Refuses (503) while orders is at capacity, rather than ask it again: called first thing, so
     * that shedding load costs next to nothing. One order in a while goes through as a probe, and
     * the first that orders takes ends the shedding. (A window after which every order asked
     * again sent a whole window's worth to orders at once, each refused as slowly as an answer.)
     */
    refuseIfAtCapacity(): void {
      if (!atCapacity) return;
      const now = Date.now();
      if (now >= nextProbeAt) nextProbeAt = now + AT_CAPACITY_PROBE_MS;
      else
        throw new HttpError(
          503,
          ErrorCode.serviceUnavailable,
          'too many orders in flight: try again in a moment',
        );
    },

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
      // Both look-ups at once; an unknown symbol is reported before an unknown account.
      const [quote, owner] = await Promise.allSettled([
        deps.quotes.priceCents(request.symbol),
        deps.owners.ownerOf(request.account_id),
      ]);
      if (quote.status === 'rejected') throw quote.reason;
      if (owner.status === 'rejected') throw owner.reason;
      if (owner.value !== customer)
        throw new HttpError(422, ErrorCode.unknownAccount, `no account ${request.account_id}`);

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
        .then(
          (answer) => {
            atCapacity = false;
            return answer;
          },
          async (error: unknown) => {
            if (error instanceof RpcError) {
              // any answer but this one means orders had room to look at the order
              atCapacity = error.code === RpcErrorCode.atCapacity;
              if (atCapacity) nextProbeAt = Date.now() + AT_CAPACITY_PROBE_MS;
            }
            // A keyed order that exists already with other terms: an earlier try of this key got
            // through (its answer was lost, or the key's record expired) at an older quote.
            if (keyed && error instanceof RpcError && error.code === RpcErrorCode.orderIdConflict)
              return sameOrderOrRefuse(side, request, command.orderId);
            throw error instanceof RpcError ? httpErrorOf(error) : error;
          },
        );
      deps.log.info(
        {
          order_id: result.orderId,
          side,
          limit_price_cents: command.limitPriceCents,
          max_fee_cents: command.maxFeeCents,
        },
        'order accepted',
      );
      // whose order it is: personal data, only at debug level
      deps.log.debug({ order_id: result.orderId, customer }, 'order accepted for this customer');
      return accepted(result.orderId);
    },
  };

  /** The existing order when it is this request's (same account, side, symbol and quantity). */
  async function sameOrderOrRefuse(
    side: OrderSide,
    request: PlaceOrderRequest,
    orderId: string,
  ): Promise<PlaceOrderResult> {
    const existing = await deps.orders.get<Order>(`/orders/${segment(orderId)}`);
    if (!isSameOrder(existing, side, request)) throw keyReused();
    return { orderId, status: 'created' };
  }
}

/** Whether `order` is the one `request` asks for: same account, side, symbol and quantity. */
export const isSameOrder = (order: Order, side: OrderSide, request: PlaceOrderRequest): boolean =>
  order.account_id === request.account_id &&
  order.side === side &&
  order.symbol === request.symbol &&
  order.quantity === request.quantity;

/** How often an order goes through as a probe while orders is at capacity: its admission's refresh. */
const AT_CAPACITY_PROBE_MS = 100;

const RPC_STATUS: Record<string, number> = {
  [RpcErrorCode.validationFailed]: 400,
  [ErrorCode.unknownAccount]: 422,
  [ErrorCode.unknownSymbol]: 422,
  // the gateway picks a fresh id per order, so this means a bug, but it is a conflict all the same
  [RpcErrorCode.orderIdConflict]: 409,
  [ErrorCode.orderNotFound]: 404,
  [ErrorCode.orderNotCancelable]: 409,
  [RpcErrorCode.serviceUnavailable]: 503,
  [RpcErrorCode.atCapacity]: 503,
  // orders runs without this method: a deployment out of step, not the customer's fault
  [RpcErrorCode.unknownMethod]: 503,
};

/** An error orders replied with, as the customer sees it: same code, the matching status. */
export function httpErrorOf(error: RpcError): HttpError {
  // at capacity is, to the customer, the service unavailable for a moment (with Retry-After)
  const code = error.code === RpcErrorCode.atCapacity ? ErrorCode.serviceUnavailable : error.code;
  return new HttpError(RPC_STATUS[error.code] ?? 500, code, error.message);
}
