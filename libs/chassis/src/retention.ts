import type { Pool } from './database.ts';
import type { Worker } from './definition.ts';
import type { Logger } from './logger.ts';
import { Poller } from './poller.ts';

/**
 * Deletes inbox rows older than the retention window, `batchSize` rows per statement, again at
 * once while a batch comes back full, then every `intervalMs`. Every instance of a service runs
 * one; `SKIP LOCKED` keeps them out of each other's way. Ages are the database's own clock
 * (`handled_at` defaults to `now()` there).
 *
 * The window must be longer than any redelivery of a message, or a late copy finds no row and is
 * applied twice: the README says what that means for replaying parked messages.
 */
export class InboxRetention implements Worker {
  private readonly poller: Poller;

  constructor(
    private readonly pool: Pool,
    private readonly retentionHours: number,
    log: Logger,
    private readonly options = { batchSize: 1000, intervalMs: 10 * 60_000 },
  ) {
    this.poller = new Poller(
      'deleting expired inbox rows',
      options.intervalMs,
      async () => (await this.deleteBatch()) === options.batchSize,
      log,
    );
  }

  start(): void {
    this.poller.start();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  private async deleteBatch(): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM inbox WHERE (handler, message_id) IN (
         SELECT handler, message_id FROM inbox
         WHERE handled_at < now() - make_interval(hours => $1)
         ORDER BY handled_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [this.retentionHours, this.options.batchSize],
    );
    return rowCount ?? 0;
  }
}
