import type { Logger, Publish, Tx } from '@simplebank/chassis';
import { OrderExpired, OrderFailed, OrderPlaced, TradeExecuted } from '@simplebank/contracts';
import type { Outcome } from '../domain/placement-steps.ts';
import { type KnownPlacement, placements } from '../store/placements.ts';

/** An outcome that ends the order or places it: what the exchange said, or what market decided. */
export type Final = Extract<Outcome, { kind: 'placed' | 'executed' | 'expired' | 'ended' }>;

/**
 * Records `outcome` on the placement and announces it, in the caller's transaction: the worker's
 * answers and the execution feed both come here, so an order is announced the same way whichever
 * learns of it first. An order market had not yet announced placed is announced placed first.
 */
export async function recordOutcome(
  tx: Tx,
  publish: Publish,
  placement: KnownPlacement,
  outcome: Final,
  {
    log,
    checkAt = null,
  }: { log: Logger /** When to ask after an order that stays placed (ms). */; checkAt?: number | null },
): Promise<void> {
  const { orderId, accountId } = placement;
  // each event belongs to its order's saga, not to the work that learned of it
  const cause = { correlationId: orderId, causationId: null };
  const exchangeOrderId = outcome.kind === 'ended' ? null : outcome.exchangeOrderId;
  if (placement.status === 'ready' && exchangeOrderId !== null) {
    await placements.placed(tx, orderId, exchangeOrderId, outcome.kind === 'placed' ? checkAt : null);
    await publish(OrderPlaced, { orderId, accountId, exchangeOrderId }, cause);
    log.info({ exchange_order_id: exchangeOrderId }, 'order placed on the exchange');
  }
  switch (outcome.kind) {
    case 'placed':
      return;
    case 'executed': {
      const { side, symbol, quantity, feeCents } = placement;
      await placements.executed(tx, orderId, outcome.fillPriceCents);
      await publish(
        TradeExecuted,
        {
          orderId,
          accountId,
          side,
          symbol,
          quantity,
          fillPriceCents: outcome.fillPriceCents,
          feeCents: feeCents as number,
        },
        cause,
      );
      log.info({ fill_price_cents: outcome.fillPriceCents }, 'trade executed');
      return;
    }
    case 'expired':
      await placements.expired(tx, orderId);
      await publish(OrderExpired, { orderId, accountId }, cause);
      log.info('order expired on the exchange');
      return;
    case 'ended':
      await placements.close(tx, orderId, outcome.status, outcome.reason);
      await publish(OrderFailed, { orderId, accountId, reason: outcome.reason }, cause);
      log.info({ reason: outcome.reason }, `order ${outcome.status}`);
  }
}
