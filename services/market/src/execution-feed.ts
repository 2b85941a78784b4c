import {
  Poller,
  type Pool,
  type Publish,
  type ServiceContext,
  type Tx,
  type Worker,
} from '@simplebank/chassis';
import {
  type EventDefinition,
  OrderExpired,
  OrderPlaced,
  type PayloadOf,
  TradeExecuted,
} from '@simplebank/contracts';
import type { ExchangeClient, Execution } from './exchange-client.ts';
import { assessExecution } from './executions.ts';
import { type KnownPlacement, placements } from './placements.ts';

const PAGE = 100;

/** Where market is in the exchange's execution feed. */
const feedCursor = {
  async read(db: Pool | Tx, { lock = false } = {}): Promise<{ epoch: string | null; afterSeq: number }> {
    const { rows } = await db.query(
      `SELECT epoch, after_seq FROM execution_feed ${lock ? 'FOR UPDATE' : ''}`,
    );
    return { epoch: rows[0].epoch, afterSeq: rows[0].after_seq };
  },
  async move(db: Pool | Tx, epoch: string, afterSeq: number): Promise<void> {
    await db.query('UPDATE execution_feed SET epoch = $1, after_seq = $2, updated_at = now()', [
      epoch,
      afterSeq,
    ]);
  },
};

/** An execution market can never apply: applying it again would fail the same way. */
class UnusableExecution extends Error {}

/** A `publish` that refuses, as unusable, a payload its event's schema would refuse. */
const publishValid =
  (publish: Publish): Publish =>
  async <E extends EventDefinition>(event: E, payload: PayloadOf<E>) => {
    const problem = event.validate(payload);
    if (problem) throw new UnusableExecution(`${event.name} would not match its schema: ${problem}`);
    await publish(event, payload);
  };

/**
 * Follows the exchange's execution feed: each fill becomes TradeExecuted, each lapse OrderExpired,
 * in one transaction with the cursor, so an execution is announced exactly once. An execution that
 * can never be applied (invalid, or its event would not match the contracts) is logged as an error
 * and passed over, so it does not hold up every later one; any other failure (the database, the
 * network) leaves the cursor where it is, to try again.
 */
export function executionFeed(
  svc: ServiceContext<unknown>,
  exchange: ExchangeClient,
  intervalMs: number,
): Worker {
  const follow = async (): Promise<boolean> => {
    const cursor = await feedCursor.read(svc.pool);
    const feed = await exchange.executionsAfter(cursor.afterSeq, PAGE);
    if (feed.epoch !== cursor.epoch) {
      // the exchange restarted (or this is the first look): its feed starts again from 1
      svc.log.info({ epoch: feed.epoch, previous_epoch: cursor.epoch }, 'following a new execution feed');
      await feedCursor.move(svc.pool, feed.epoch, 0);
      return true;
    }
    for (const execution of feed.executions) {
      const correlationId =
        execution.kind === 'invalid' ? `execution-${feed.epoch}-${execution.seq}` : execution.client_order_id;
      const skipped = await svc.transaction({ correlationId, causationId: null }, async (tx, publish) => {
        const current = await feedCursor.read(tx, { lock: true });
        if (current.epoch !== feed.epoch || execution.seq <= current.afterSeq) return; // another instance took it
        await tx.query('SAVEPOINT execution');
        let unusable: string | undefined;
        try {
          if (execution.kind === 'invalid') throw new UnusableExecution(execution.problem);
          await settle(tx, publishValid(publish), execution);
        } catch (error) {
          if (!(error instanceof UnusableExecution)) throw error;
          await tx.query('ROLLBACK TO SAVEPOINT execution'); // none of it applied, only the cursor moves
          unusable = error.message;
        }
        await feedCursor.move(tx, feed.epoch, execution.seq);
        return unusable;
      });
      if (skipped !== undefined) {
        const entry = execution.kind === 'invalid' ? execution.entry : execution;
        svc.log.error(
          { epoch: feed.epoch, seq: execution.seq, execution: entry, problem: skipped },
          'execution skipped: it can never be applied',
        );
      }
    }
    return feed.executions.length === PAGE;
  };

  const settle = async (tx: Tx, publish: Publish, execution: Execution) => {
    const orderId = execution.client_order_id;
    const log = svc.log.child({ order_id: orderId, seq: execution.seq });
    const placement = await placements.find(tx, orderId);
    const verdict = assessExecution(placement);
    if (verdict.kind === 'skip') {
      (placement ? log.warn : log.debug).call(
        log,
        { kind: execution.kind },
        `execution skipped: ${verdict.why}`,
      );
      return;
    }
    const { accountId, side, symbol, quantity, feeCents } = placement as KnownPlacement;
    if (verdict.kind === 'place_and_settle') {
      const exchangeOrderId = execution.exchange_order_id;
      await placements.placed(tx, orderId, exchangeOrderId);
      await publish(OrderPlaced, { orderId, accountId, exchangeOrderId });
    }
    if (execution.kind === 'filled') {
      const fillPriceCents = execution.price_cents;
      await placements.executed(tx, orderId, fillPriceCents);
      await publish(TradeExecuted, {
        orderId,
        accountId,
        side,
        symbol,
        quantity,
        fillPriceCents,
        feeCents: feeCents as number,
      });
      log.info({ fill_price_cents: fillPriceCents }, 'trade executed');
    } else {
      await placements.expired(tx, orderId);
      await publish(OrderExpired, { orderId, accountId });
      log.info('order expired on the exchange');
    }
  };

  return new Poller('following the execution feed', intervalMs, follow, svc.log);
}
