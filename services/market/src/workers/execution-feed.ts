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
import { assessExecution } from '../domain/executions.ts';
import type { ExchangeClient, Execution } from '../exchange/exchange-client.ts';
import { recordOutcome } from '../exchange/exchange-outcomes.ts';
import { type KnownPlacement, type Placement, placements } from '../store/placements.ts';
import { tradeBreaks } from '../store/trade-breaks.ts';

const PAGE = 100;

/** Why an event's payload would be refused by its schema, if it would. */
const problemOf = <E extends EventDefinition>(event: E, payload: PayloadOf<E>): string | undefined => {
  const problem = event.validate(payload);
  return problem ? `${event.name} would not match its schema: ${problem}` : undefined;
};

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
interface Unusable {
  seq: number;
  entry: unknown;
  problem: string;
}

/**
 * Follows the exchange's execution feed: each fill becomes TradeExecuted, each lapse OrderExpired,
 * in one transaction with the cursor, so an execution is announced exactly once. A page is one
 * transaction (one lock of the cursor, not one per execution: under load the feed is the saga's
 * narrowest step). An execution that can never be applied (invalid, or its event would not match
 * the contracts) is found before anything is written, logged as an error and passed over, so it
 * does not hold up every later one; any other failure (the database, the network) leaves the
 * cursor where it is, to try the page again.
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
      // the exchange lost its book (or this is the first look): its feed starts again from 1, and
      // what it did with the orders placed under the old one is asked of it, order by order
      const asked = await svc.transaction(
        { correlationId: `epoch-${feed.epoch}`, causationId: null },
        async (tx) => {
          const current = await feedCursor.read(tx, { lock: true });
          if (current.epoch === feed.epoch) return 0; // another instance followed it first
          await feedCursor.move(tx, feed.epoch, 0);
          return current.epoch === null ? 0 : placements.checkAllPlaced(tx);
        },
      );
      svc.log.info(
        { epoch: feed.epoch, previous_epoch: cursor.epoch, placed_orders_to_check: asked },
        'following a new execution feed',
      );
      return true;
    }
    const last = feed.executions.at(-1);
    if (!last) return false;
    const cause = { correlationId: `executions-${feed.epoch}-${last.seq}`, causationId: null };
    const outcome = await svc.transaction(cause, async (tx, publish) => {
      const current = await feedCursor.read(tx, { lock: true });
      if (current.epoch !== feed.epoch) return { skipped: [], complete: true }; // another instance followed a restart
      const fresh = feed.executions.filter((e) => e.seq > current.afterSeq); // the rest, another instance took
      const { free, held } = await placements.lockFree(
        tx,
        fresh.flatMap((e) => (e.kind === 'invalid' ? [] : [e.client_order_id])),
      );
      const skipped: Unusable[] = [];
      let applied = current.afterSeq;
      for (const execution of fresh) {
        // a placement still waiting on the exchange's answer: later, rather than wait holding the page
        if (execution.kind !== 'invalid' && held.has(execution.client_order_id)) break;
        const problem =
          execution.kind === 'invalid'
            ? execution.problem
            : await applyExecution(tx, publish, execution, free.get(execution.client_order_id));
        if (problem !== undefined) {
          const entry = execution.kind === 'invalid' ? execution.entry : execution;
          skipped.push({ seq: execution.seq, entry, problem });
        }
        applied = execution.seq;
      }
      if (applied > current.afterSeq) await feedCursor.move(tx, feed.epoch, applied);
      return { skipped, complete: applied === last.seq };
    });
    for (const { seq, entry, problem } of outcome.skipped)
      svc.log.error(
        { epoch: feed.epoch, seq, execution: entry, problem },
        'execution skipped: it can never be applied',
      );
    return outcome.complete && feed.executions.length === PAGE;
  };

  /** Applies one execution; a problem that makes it unusable is returned before anything is written. */
  const applyExecution = async (
    tx: Tx,
    publish: Publish,
    execution: Execution,
    placement: Placement | undefined,
  ): Promise<string | undefined> => {
    const orderId = execution.client_order_id;
    const log = svc.log.child({ order_id: orderId, seq: execution.seq });
    const verdict = assessExecution(placement, execution);
    if (verdict.kind === 'skip') {
      (placement ? log.info : log.debug).call(
        log,
        { kind: execution.kind },
        `execution skipped: ${verdict.why}`,
      );
      return undefined;
    }
    const known = placement as KnownPlacement;
    if (verdict.kind === 'trade_break') {
      const fill = {
        exchangeOrderId: execution.exchange_order_id,
        fillPriceCents: (execution as Extract<Execution, { kind: 'filled' }>).price_cents,
      };
      if (await tradeBreaks.record(tx, known, fill))
        log.error(
          {
            status: known.status,
            exchange_order_id: fill.exchangeOrderId,
            fill_price_cents: fill.fillPriceCents,
          },
          'trade break: the exchange filled an order our books had ended (prometheus/RUNBOOK.md, "TradeBreak")',
        );
      return undefined;
    }
    const { accountId, side, symbol, quantity, feeCents } = known;
    const exchangeOrderId = execution.exchange_order_id;
    const problem =
      (known.status === 'ready' && problemOf(OrderPlaced, { orderId, accountId, exchangeOrderId })) ||
      (execution.kind === 'filled'
        ? problemOf(TradeExecuted, {
            orderId,
            accountId,
            side,
            symbol,
            quantity,
            fillPriceCents: execution.price_cents,
            feeCents: feeCents as number,
          })
        : problemOf(OrderExpired, { orderId, accountId }));
    if (problem) return problem;
    const outcome =
      execution.kind === 'filled'
        ? ({ kind: 'executed', exchangeOrderId, fillPriceCents: execution.price_cents } as const)
        : ({ kind: 'expired', exchangeOrderId } as const);
    await recordOutcome(tx, publish, known, outcome, { log });
    return undefined;
  };

  return new Poller('following the execution feed', intervalMs, follow, svc.log);
}
