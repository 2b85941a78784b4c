import { type Logger, Poller, type ServiceContext, type Worker } from '@simplebank/chassis';
import { FailureReason, OrderFailed, OrderPlaced } from '@simplebank/contracts';
import type { ExchangeClient } from './exchange-client.ts';
import { placements } from './placements.ts';
import { nextAttempt, type RetryPolicy } from './retry-schedule.ts';

/**
 * T4, the second half: places ready orders on the exchange. Each order is placed in its own
 * transaction that holds the row lock through the HTTP call, so a cancel arriving meanwhile waits
 * and then finds the order placed, and another instance skips the row.
 */
export class PlacementWorker implements Worker {
  private readonly poller: Poller;

  constructor(
    private readonly svc: ServiceContext<unknown>,
    private readonly exchange: ExchangeClient,
    private readonly policy: RetryPolicy,
    private readonly options: { pollMs: number; batchSize: number },
  ) {
    this.poller = new Poller('placing orders', options.pollMs, () => this.placeDue(), svc.log);
  }

  start(): void {
    this.poller.start();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** Places what became due now instead of at the next poll (call it once the order is committed). */
  wake(): void {
    this.poller.wake();
  }

  private async placeDue(): Promise<boolean> {
    const due = await placements.due(this.svc.pool, new Date(), this.options.batchSize);
    const outcomes = await Promise.allSettled(due.map((orderId) => this.place(orderId)));
    const failure = outcomes.find((o) => o.status === 'rejected');
    if (failure) throw failure.reason;
    // rows another instance holds count as not done, so they do not keep us spinning
    return outcomes.filter((o) => o.status === 'fulfilled' && o.value).length === this.options.batchSize;
  }

  private place(orderId: string): Promise<boolean> {
    return this.svc.transaction({ correlationId: orderId, causationId: null }, async (tx, publish) => {
      const placement = await placements.lockDue(tx, orderId, new Date());
      if (!placement) return false; // placed, canceled or failed meanwhile, or another instance has it
      const log = this.svc.log.child({ order_id: orderId });
      const { accountId } = placement;
      const fail = async (reason: string) => {
        await placements.close(tx, orderId, 'failed', reason);
        await publish(OrderFailed, { orderId, accountId, reason });
      };

      const answer = await this.svc.statsd.timed('place_order_stock_exchange', () =>
        this.exchange.place(orderId, placement),
      );
      if (answer.kind === 'accepted') {
        await placements.placed(tx, orderId, answer.exchangeOrderId);
        await publish(OrderPlaced, { orderId, accountId, exchangeOrderId: answer.exchangeOrderId });
        log.info({ exchange_order_id: answer.exchangeOrderId }, 'order placed on the exchange');
      } else if (answer.kind === 'rejected') {
        log.warn({ detail: answer.detail }, 'the exchange rejected the order');
        await fail(FailureReason.exchangeRejected);
      } else {
        const attempts = placement.attempts + 1;
        const readyAt = (placement.readyAt as Date).getTime();
        const next = nextAttempt(this.policy, { attempts, readyAt }, Date.now(), Math.random);
        if (next.kind === 'give_up') {
          log.warn(
            { detail: answer.detail, attempts },
            'the exchange could not take the order before the deadline',
          );
          await fail(FailureReason.exchangeUnavailable);
        } else {
          logRetry(log, attempts, answer.detail);
          await placements.retryAt(tx, orderId, new Date(next.at), answer.detail);
        }
      }
      return true;
    });
  }
}

// the first failure says the exchange is in trouble; every later one would only repeat it
const logRetry = (log: Logger, attempts: number, detail: string) =>
  (attempts === 1 ? log.warn : log.debug).call(
    log,
    { detail, attempts },
    'the exchange is unavailable; will retry',
  );
