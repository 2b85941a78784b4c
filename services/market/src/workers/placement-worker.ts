import {
  type Logger,
  Poller,
  type Publish,
  type ServiceContext,
  type Tx,
  type Worker,
} from '@simplebank/chassis';
import {
  type Answer,
  afterAnswer,
  type Call,
  nextStep,
  type OpenPlacement,
  type Timing,
} from '../domain/placement-steps.ts';
import type { ExchangeClient } from '../exchange/exchange-client.ts';
import { type Final, recordOutcome } from '../exchange/exchange-outcomes.ts';
import { type KnownPlacement, placements } from '../store/placements.ts';

/**
 * T4, the second half: places ready orders on the exchange, withdraws the ones to cancel, and asks
 * after placed orders that should have ended. No transaction is open during a call: the attempts
 * of a pass are recorded and committed first (an attempt to place makes the placement in doubt),
 * the calls made, then the answers recorded in a second transaction (placement-steps.ts says what
 * each answer means).
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

  /**
   * One pass over what is due: one transaction claims it and records the calls about to be made,
   * the calls go out together, and one transaction records their answers (two
   * transactions a pass, where it took two an order).
   */
  private async actOnDue(): Promise<boolean> {
    const { claimed, calls } = await this.claimDue();
    let pending = calls;
    // a call or an answer that threw (a bug, or the database) leaves its placement to its lease;
    // the others go on, and the pass fails at the end so the poller backs off
    let failure: { error: unknown } | undefined;
    while (pending.length > 0) {
      const asked = await Promise.allSettled(
        pending.map(async (call) => ({ ...call, answer: await this.ask(call.step, call.placement) })),
      );
      for (const a of asked) if (a.status === 'rejected') failure ??= { error: a.reason };
      const recorded = await this.recordAnswers(
        asked.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : [])),
      );
      failure ??= recorded.failure;
      pending = recorded.next;
    }
    if (failure) throw failure.error;
    // rows another instance holds were skipped, so they do not keep us spinning
    return claimed === this.options.batchSize;
  }

  private claimDue(): Promise<{ claimed: number; calls: PendingCall[] }> {
    return this.svc.transaction(PASS, async (tx, publish) => {
      const due = await placements.claimDue(tx, this.options.batchSize);
      const calls: PendingCall[] = [];
      for (const { placement, now } of due) {
        const step = nextStep(openOf(placement), now, this.timing);
        if (step.kind === 'end') {
          const ended = { kind: 'ended', status: step.status, reason: step.reason } as const;
          await recordOutcome(tx, publish, placement, ended, { log: this.logFor(placement) });
        } else {
          calls.push({ step, placement });
        }
      }
      await placements.callingAll(
        tx,
        calls.map(({ step, placement }) => ({ orderId: placement.orderId, placing: step.kind === 'place' })),
        this.timing.callLeaseMs,
      );
      return { claimed: due.length, calls };
    });
  }

  /**
   * Records the answers: in one transaction for the rows free now, then one at a time for rows
   * another transaction holds (the feed's, a prerequisite's) or when the one transaction failed, so
   * an answer that cannot be recorded costs no other its own. Returns the calls to make next.
   */
  private async recordAnswers(
    answered: AnsweredCall[],
  ): Promise<{ next: PendingCall[]; failure?: { error: unknown } }> {
    if (answered.length === 0) return { next: [] };
    const byOrder = new Map(answered.map((a) => [a.placement.orderId, a]));
    let next: PendingCall[] = [];
    let alone = answered;
    try {
      const together = await this.svc.transaction(PASS, async (tx, publish) => {
        const steps: PendingCall[] = [];
        const free = await placements.lockFreeForAnswers(tx, [...byOrder.keys()]);
        for (const { placement, now } of free) {
          const call = byOrder.get(placement.orderId) as AnsweredCall;
          const step = await this.recordAnswer(tx, publish, placement, now, call);
          if (step) steps.push({ step, placement: call.placement });
        }
        return { steps, recorded: new Set(free.map(({ placement }) => placement.orderId)) };
      });
      next = together.steps;
      alone = answered.filter((a) => !together.recorded.has(a.placement.orderId));
    } catch (error) {
      this.svc.log.warn({ error }, 'answers not recorded together: recording each alone');
    }
    let failure: { error: unknown } | undefined;
    for (const call of alone) {
      try {
        const step = await this.svc.transaction(PASS, async (tx, publish) => {
          const { placement, now } = await placements.lockForAnswer(tx, call.placement.orderId);
          return this.recordAnswer(tx, publish, placement, now, call);
        });
        if (step) next.push({ step, placement: call.placement });
      } catch (error) {
        failure ??= { error };
      }
    }
    return failure ? { next, failure } : { next };
  }

  /** What `answer` means for the placement as it is now (locked); the next call, if one is needed. */
  private async recordAnswer(
    tx: Tx,
    publish: Publish,
    placement: KnownPlacement,
    now: number,
    { step, answer }: AnsweredCall,
  ): Promise<Call | undefined> {
    // the feed (or another instance, after our lease ran out) may have ended it meanwhile
    if (placement.status !== 'ready' && placement.status !== 'placed') return undefined;
    const { orderId } = placement;
    const log = this.logFor(placement);
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
        return { kind: 'withdraw', why: 'lost' };
      default:
        await recordOutcome(tx, publish, placement, outcome satisfies Final, {
          log,
          checkAt: now + this.timing.recheckMs,
        });
        return undefined;
    }
  }

  private logFor(placement: KnownPlacement): Logger {
    return this.svc.log.child({ order_id: placement.orderId });
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

/** A call to the exchange about to be made, and the placement as it was claimed. */
interface PendingCall {
  step: Call;
  placement: KnownPlacement;
}

interface AnsweredCall extends PendingCall {
  answer: Answer;
}

/**
 * The transactions of a pass are no order's: each event they publish names its own order as its
 * cause (recordOutcome), so this one is never used for one.
 */
const PASS = { correlationId: 'placement-worker', causationId: null };

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
