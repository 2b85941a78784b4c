import type { HandlerContext } from '@simplebank/chassis';
import { OrderFailed } from '@simplebank/contracts';
import { type Arrival, afterArrival } from './domain/prerequisites.ts';
import { placements } from './store/placements.ts';
import type { PlacementWorker } from './workers/placement-worker.ts';

type Ids = { orderId: string; accountId: string };

/**
 * T4, the first half: one placement row per order, filled in as its events arrive in any order;
 * `afterArrival` (domain/prerequisites.ts) says what each arrival means for it.
 */
export const trackArrival =
  (placement: PlacementWorker) =>
  async (
    { orderId, accountId }: Ids,
    arrival: Arrival,
    { tx, publish, afterCommit, log }: HandlerContext,
  ) => {
    const current = await placements.open(tx, orderId, accountId);
    const verdict = afterArrival(current, arrival);
    switch (verdict.kind) {
      case 'ignored':
        log.info({ status: current.status }, `${arrival.kind} ignored: ${verdict.why}`);
        return;
      case 'waiting':
        await placements.record(tx, orderId, arrival);
        return;
      case 'ready':
        await placements.record(tx, orderId, arrival);
        await placements.ready(tx, orderId);
        // placed at once rather than at the next poll; only after commit can the worker see it
        afterCommit(() => placement.wake());
        return;
      case 'withdraw':
        log.info({ status: current.status }, 'cancel requested: withdrawing the order at the exchange');
        await placements.requestCancel(tx, orderId);
        afterCommit(() => placement.wake());
        return;
      case 'failed':
      case 'canceled':
        // the first failure ends the order; C1-C3 follow from this one OrderFailed
        log.info({ reason: verdict.reason }, 'order failed before placement');
        await placements.close(tx, orderId, verdict.kind, verdict.reason);
        await publish(OrderFailed, { orderId, accountId, reason: verdict.reason });
    }
  };
