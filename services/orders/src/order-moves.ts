import { type HandlerContext, PoisonMessageError } from '@simplebank/chassis';
import { OrderStatusChanged } from '@simplebank/contracts';
import type { OrderStatus } from './domain/order-status.ts';
import { type OrderFacts, orders } from './orders.ts';
import type { SagaMetrics } from './saga-metrics.ts';

/** Applies an event's news to its order, forward only (docs/saga.md, "Events arrive in any order"). */
export async function moveOrder(
  saga: SagaMetrics,
  { tx, log, envelope, afterCommit, publish }: HandlerContext,
  orderId: string,
  next: OrderStatus,
  facts?: OrderFacts,
): Promise<void> {
  const moved = await orders.moveTo(tx, orderId, next, envelope.occurredAt, facts);
  // Orders commits an order before its OrderCreated leaves, so market cannot know of one we lack.
  if (!moved) throw new PoisonMessageError(`no order ${orderId}`);
  if (moved.change === 'ignore') log.warn({ status: moved.from, ignored: next }, 'status change ignored');
  // Counted once the move has committed: an event rolled back and redelivered counts once.
  if (moved.change === 'advance') {
    // the news for the customer's screen (through the gateway), in the same transaction
    await publish(OrderStatusChanged, {
      orderId,
      accountId: moved.order.account_id,
      status: next,
      reason: facts?.reason ?? null,
      at: envelope.occurredAt,
    });
    afterCommit(() => saga.moved(moved.order, next, new Date(envelope.occurredAt), facts?.reason));
  }
}
