import type { OrderSide, PlaceOrderCommand, PlaceOrderRequest } from '@simplebank/contracts';

/** 100 % in basis points. */
const WHOLE = 10_000n;

/**
 * The worst price the customer accepts: a buy fills at most at the quote plus the collar (rounded
 * up to the cent), a sell at least at the quote minus the collar (rounded down), so the cash held
 * for a buy covers any fill (docs/saga.md, "Limits and the fee allowance"). BigInt keeps
 * quote × (10000 ± collar) exact where a double would round.
 */
export function limitPriceCents(side: OrderSide, quoteCents: number, collarBasisPoints: number): number {
  if (!Number.isSafeInteger(quoteCents) || quoteCents < 0) {
    throw new RangeError(`not a whole, non-negative number of cents: ${quoteCents}`);
  }
  if (!Number.isInteger(collarBasisPoints) || collarBasisPoints < 0 || collarBasisPoints > 10_000) {
    throw new RangeError(`collar must be 0..10000 basis points: ${collarBasisPoints}`);
  }
  const quote = BigInt(quoteCents);
  const collar = BigInt(collarBasisPoints);
  const limit =
    side === 'buy'
      ? (quote * (WHOLE + collar) + WHOLE - 1n) / WHOLE // ceil: non-negative operands
      : (quote * (WHOLE - collar)) / WHOLE; // floor
  if (limit > BigInt(Number.MAX_SAFE_INTEGER))
    throw new RangeError(`limit price out of range: ${limit} cents`);
  return Number(limit);
}

/** The RPC command orders receives; `orderId` is chosen here so a retried command creates one order. */
export function placeOrderCommand(
  orderId: string,
  request: PlaceOrderRequest,
  terms: { limitPriceCents: number; maxFeeCents: number },
): PlaceOrderCommand {
  return {
    orderId,
    accountId: request.account_id,
    symbol: request.symbol,
    quantity: request.quantity,
    limitPriceCents: terms.limitPriceCents,
    maxFeeCents: terms.maxFeeCents,
  };
}
