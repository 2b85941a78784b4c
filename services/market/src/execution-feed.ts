import {
  Poller,
  type Pool,
  type Publish,
  type ServiceContext,
  type Tx,
  type Worker,
} from '@simplebank/chassis';
import { OrderExpired, OrderPlaced, TradeExecuted } from '@simplebank/contracts';
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

/**
 * Follows the exchange's execution feed: each fill becomes TradeExecuted, each lapse OrderExpired,
 * in one transaction with the cursor, so an execution is announced exactly once.
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
      const cause = { correlationId: execution.client_order_id, causationId: null };
      await svc.transaction(cause, async (tx, publish) => {
        const current = await feedCursor.read(tx, { lock: true });
        if (current.epoch !== feed.epoch || execution.seq <= current.afterSeq) return; // another instance took it
        await settle(tx, publish, execution);
        await feedCursor.move(tx, feed.epoch, execution.seq);
      });
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
