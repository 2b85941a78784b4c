import { type Logger, Poller, type ServiceContext, type Worker } from '@simplebank/chassis';
import type { ExchangeClient } from './exchange-client.ts';
import { type Final, recordOutcome } from './exchange-outcomes.ts';
import {
  type Answer,
  afterAnswer,
  type Call,
  nextStep,
  type OpenPlacement,
  type Timing,
} from './placement-steps.ts';
import { type KnownPlacement, placements } from './placements.ts';

/**
 * T4, the second half: places ready orders on the exchange, withdraws the ones to cancel, and asks
 * after placed orders that should have ended. No transaction is open during a call: the attempt is
 * recorded and committed first (an attempt to place makes the placement in doubt), the call made,
 * then the answer recorded in a second transaction (placement-steps.ts says what each answer means).
 */
export class PlacementWorker implements Worker {
  private readonly poller: Poller;

  constructor(
    private readonly svc: ServiceContext<unknown>,
    private readonly exchange: ExchangeClient,
    private readonly timing: Timing & {
      /** Longest a call to the exchange takes, retries included: nobody else takes the placement up meanwhile. */
      callLeaseMs: number;
    },
    private readonly options: { pollMs: number; batchSize: number },
  ) {
    this.poller = new Poller('placing orders', options.pollMs, () => this.actOnDue(), svc.log);
  }

  start(): void {
    this.poller.start();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** Acts on what became due now instead of at the next poll (call it once the change is committed). */
  wake(): void {
    this.poller.wake();
  }

  private async actOnDue(): Promise<boolean> {
    const due = await placements.due(this.svc.pool, this.options.batchSize);
    const outcomes = await Promise.allSettled(due.map((orderId) => this.actOn(orderId)));
    const failure = outcomes.find((o) => o.status === 'rejected');
    if (failure) throw failure.reason;
    // rows another instance holds count as not done, so they do not keep us spinning
    return outcomes.filter((o) => o.status === 'fulfilled' && o.value).length === this.options.batchSize;
  }

  private async actOn(orderId: string): Promise<boolean> {
    const log = this.svc.log.child({ order_id: orderId });
    const cause = { correlationId: orderId, causationId: null };
    const call = await this.svc.transaction(cause, async (tx, publish) => {
      const claimed = await placements.claim(tx, orderId);
      if (!claimed) return undefined; // ended meanwhile, or another instance has it
      const { placement, now } = claimed;
      const step = nextStep(openOf(placement), now, this.timing);
      if (step.kind === 'end') {
        const ended = { kind: 'ended', status: step.status, reason: step.reason } as const;
        await recordOutcome(tx, publish, placement, ended, { log });
        return undefined;
      }
      await placements.calling(tx, orderId, {
        placing: step.kind === 'place',
        leaseMs: this.timing.callLeaseMs,
      });
      return { step, placement };
    });
    if (!call) return false;
    let step: Call = call.step;
    for (;;) {
      const answer = await this.ask(step, call.placement);
      const next = await this.svc.transaction(cause, async (tx, publish) => {
        const { placement, now } = await placements.lockForAnswer(tx, orderId);
        // the feed (or another instance, after our lease ran out) may have ended it meanwhile
        if (placement.status !== 'ready' && placement.status !== 'placed') return undefined;
        const outcome = afterAnswer(openOf(placement), step, answer, now, this.timing, Math.random);
        switch (outcome.kind) {
          case 'retry':
            logUnanswered(log, step, placement.attempts, outcome.detail);
            await placements.retryAt(tx, orderId, outcome.at, outcome.detail, outcome.inDoubt);
            return undefined;
          case 'check_later':
            await placements.checkAt(tx, orderId, outcome.at);
            return undefined;
          case 'withdraw_now':
            log.warn('the exchange does not know an order it took: withdrawing it before ending it');
            return { kind: 'withdraw', why: 'lost' } as const;
          default:
            await recordOutcome(tx, publish, placement, outcome satisfies Final, {
              log,
              checkAt: now + this.timing.recheckMs,
            });
            return undefined;
        }
      });
      if (!next) return true;
      step = next;
    }
  }

  private ask(step: Call, placement: KnownPlacement): Promise<Answer> {
    const { orderId } = placement;
    switch (step.kind) {
      case 'place':
        return this.svc.statsd.timed('place_order_stock_exchange', () =>
          this.exchange.place(orderId, placement),
        );
      case 'withdraw':
        return this.exchange.withdraw(orderId);
      case 'check':
        return this.exchange.order(orderId);
    }
  }
}

/** A ready or placed placement as the steps see it; readyAt is set on every such row. */
const openOf = (placement: KnownPlacement): OpenPlacement => ({
  status: placement.status,
  inDoubt: placement.inDoubt,
  cancelRequested: placement.cancelRequested,
  attempts: placement.attempts,
  readyAt: (placement.readyAt as Date).getTime(),
});

// the first unanswered call says the exchange is in trouble; every later one would only repeat it
const logUnanswered = (log: Logger, step: Call, attempts: number, detail: string) =>
  (attempts <= 1 ? log.warn : log.debug).call(
    log,
    { detail, step: step.kind, attempts },
    'the exchange gave no answer; will ask again',
  );
