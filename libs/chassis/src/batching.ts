import { type Context, context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { type Pool, statementsSent, type Tx, transaction } from './database.ts';
import type { AfterCommit } from './definition.ts';
import type { Metrics } from './metrics.ts';
import type { Cause, OutboxBuffer, Publish } from './outbox.ts';
import type { OutboxDispatcher } from './outbox-relay.ts';
import type { Slots } from './slots.ts';

/** What a job's work gets: the batch's transaction, and a `publish` bound to the job's cause. */
export interface JobContext {
  tx: Tx;
  publish: Publish;
  afterCommit: AfterCommit;
}

/** One message or RPC request to handle in a batch's transaction. */
export interface Job<R> {
  cause: Cause;
  /**
   * What the job locks, as a key: a batch runs its jobs in key order, so that two batches running
   * at once take their row locks in the same order and cannot deadlock. Messages of one saga may
   * be handled in any order (docs/saga.md, "Events arrive in any order").
   */
  lockKey: string;
  /** For a message: its inbox row, so that a redelivery is recognised and skipped. */
  inbox?: { handler: string; messageId: string };
  /** For an RPC request: when its caller stops waiting (epoch ms); nothing commits after it. */
  deadline?: number;
  /** Runs in the batch's transaction, in the context the job was submitted in. */
  work(ctx: JobContext): Promise<R>;
  /** The same job in a transaction of its own: the fallback when its batch fails. */
  alone(): Promise<R | 'duplicate'>;
}

/** A job whose caller stopped waiting before its batch began: it is not run. */
export class JobExpired extends Error {
  override name = 'JobExpired';
}

interface Queued {
  job: Job<unknown>;
  context: Context;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Handles a service's messages and RPC requests many per transaction: what arrives
 * while a batch runs waits and forms the next one, so batches grow with the load and add no
 * latency when it is light. A batch is one transaction: one multi-row inbox insert (which says
 * which messages are new), each job's work in arrival order, one multi-row outbox insert, one
 * commit; its events are sent after the commit. If anything in it fails, every job of the batch
 * runs again in a transaction of its own (`alone`), so retries and parking apply to the job at
 * fault only, exactly as without batching.
 */
export class BatchRunner {
  private readonly waiting: Queued[] = [];
  private running = 0;

  constructor(
    private readonly pool: Pool,
    private readonly slots: Slots,
    private readonly dispatcher: OutboxDispatcher | undefined,
    private readonly outbox: () => OutboxBuffer,
    private readonly metrics: Metrics,
    /** Most jobs in one transaction (1: none batched). */
    private readonly maxSize: number,
    /** Batches running at once. */
    private readonly concurrency: number,
  ) {}

  /** Resolves with the job's result ('duplicate' for a message already handled) once committed. */
  submit<R>(job: Job<R>): Promise<R | 'duplicate'> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, context: context.active(), resolve, reject } as Queued);
      this.next();
    });
  }

  private next(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const batch = this.waiting
        .splice(0, this.maxSize)
        .sort((a, b) => (a.job.lockKey < b.job.lockKey ? -1 : a.job.lockKey > b.job.lockKey ? 1 : 0));
      this.running++;
      this.run(batch).finally(() => {
        this.running--;
        this.next();
      });
    }
  }

  private async run(batch: Queued[]): Promise<void> {
    const now = Date.now();
    const live = batch.filter((q) => {
      if (q.job.deadline === undefined || q.job.deadline > now) return true;
      q.reject(new JobExpired('the caller gave up before its request was handled'));
      return false;
    });
    if (live.length === 0) return;
    this.metrics.handlerBatchSize.observe(live.length);
    if (live.length === 1) {
      const [only] = live as [Queued];
      return context.with(only.context, () => only.job.alone()).then(only.resolve, only.reject);
    }
    let outcome: { buffer: OutboxBuffer; results: unknown[]; callbacks: (() => void)[] };
    try {
      outcome = await this.slots.run(() => context.with(ROOT_CONTEXT, () => this.together(live)));
    } catch {
      // each in a transaction of its own: the job at fault (or a deadlock's loser) fails alone
      await Promise.all(
        live.map((q) => context.with(q.context, () => q.job.alone()).then(q.resolve, q.reject)),
      );
      return;
    }
    this.dispatcher?.dispatch(outcome.buffer);
    for (const callback of outcome.callbacks) callback();
    live.forEach((q, i) => {
      q.resolve(outcome.results[i]);
    });
  }

  private together(batch: Queued[]) {
    const buffer = this.outbox();
    const callbacks: (() => void)[] = [];
    const afterCommit: AfterCommit = (callback) => callbacks.push(callback);
    const started = performance.now();
    return transaction(this.pool, async (tx) => {
      const sentBefore = statementsSent(tx);
      const fresh = await this.newMessages(tx, batch);
      const taken = new Set<string>();
      const results: unknown[] = [];
      for (const { job, context: jobContext } of batch) {
        if (job.inbox) {
          const key = inboxKey(job.inbox);
          // already handled, or twice in this batch: handled once
          if (!fresh.has(key) || taken.has(key)) {
            results.push('duplicate');
            continue;
          }
          taken.add(key);
        }
        const publish = buffer.publisher(job.cause);
        results.push(await context.with(jobContext, () => job.work({ tx, publish, afterCommit })));
      }
      // a caller that gave up meanwhile must not have its request committed behind its back
      const now = Date.now();
      if (batch.some((q) => q.job.deadline !== undefined && q.job.deadline <= now)) {
        throw new JobExpired('a caller gave up while its batch ran');
      }
      await buffer.write(tx);
      const attributes = {
        'db.batch_size': batch.length,
        'db.statements': statementsSent(tx) - sentBefore + 1, // and the COMMIT
        'db.duration_ms': Math.round(performance.now() - started),
      };
      for (const q of batch) trace.getSpan(q.context)?.setAttributes(attributes);
      return { buffer, results, callbacks };
    });
  }

  /** Inserts the batch's inbox rows at once; returns the keys that were not there yet. */
  private async newMessages(tx: Tx, batch: Queued[]): Promise<Set<string>> {
    const keyed = batch.flatMap(({ job }) => (job.inbox ? [job.inbox] : []));
    if (keyed.length === 0) return new Set();
    const { rows } = await tx.query<{ handler: string; message_id: string }>(
      `INSERT INTO inbox (handler, message_id)
       SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING
       RETURNING handler, message_id`,
      [keyed.map((k) => k.handler), keyed.map((k) => k.messageId)],
    );
    return new Set(rows.map((r) => inboxKey({ handler: r.handler, messageId: r.message_id })));
  }
}

const inboxKey = ({ handler, messageId }: { handler: string; messageId: string }) =>
  `${handler}\n${messageId}`;
