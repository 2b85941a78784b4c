import { prometheus as client, type Metrics, type Pool, type Tx } from '@simplebank/chassis';
import type { KnownPlacement } from './placements.ts';

export interface TradeBreak {
  orderId: string;
  accountId: string;
  placementStatus: string;
  exchangeOrderId: string;
  side: string;
  symbol: string;
  quantity: number;
  fillPriceCents: number;
  detectedAt: Date;
  resolvedAt: Date | null;
  resolution: string | null;
}

/**
 * Fills the exchange reports for orders our books had ended (prometheus/RUNBOOK.md, "TradeBreak"): recorded
 * once, never silently skipped. The in-doubt rule means there should be none.
 */
export const tradeBreaks = {
  /** Records a break; false when it was recorded already (the feed read again). */
  async record(
    tx: Tx,
    placement: KnownPlacement,
    fill: { exchangeOrderId: string; fillPriceCents: number },
  ): Promise<boolean> {
    const { rowCount } = await tx.query(
      `INSERT INTO trade_breaks (order_id, account_id, placement_status, exchange_order_id, side, symbol, quantity,
         fill_price_cents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (order_id) DO NOTHING`,
      [
        placement.orderId,
        placement.accountId,
        placement.status,
        fill.exchangeOrderId,
        placement.side,
        placement.symbol,
        placement.quantity,
        fill.fillPriceCents,
      ],
    );
    return rowCount === 1;
  },

  async list(pool: Pool): Promise<TradeBreak[]> {
    const { rows } = await pool.query('SELECT * FROM trade_breaks ORDER BY detected_at');
    return rows.map((row) => ({
      orderId: row.order_id,
      accountId: row.account_id,
      placementStatus: row.placement_status,
      exchangeOrderId: row.exchange_order_id,
      side: row.side,
      symbol: row.symbol,
      quantity: row.quantity,
      fillPriceCents: row.fill_price_cents,
      detectedAt: row.detected_at,
      resolvedAt: row.resolved_at,
      resolution: row.resolution,
    }));
  },

  /** An operator corrected the account: the break is closed with what was done. */
  async resolve(pool: Pool, orderId: string, resolution: string): Promise<boolean> {
    const { rowCount } = await pool.query(
      `UPDATE trade_breaks SET resolved_at = now(), resolution = $2 WHERE order_id = $1 AND resolved_at IS NULL`,
      [orderId, resolution],
    );
    return rowCount === 1;
  },
};

/**
 * `market_trade_breaks_open` (breaks no operator has resolved) and `market_placements_in_doubt`
 * (placements waiting for the exchange to say what became of an unanswered attempt), read from the
 * database at each scrape so they survive restarts and stay up until the cause is gone.
 */
export function placementMetrics(registry: Metrics['registry'], pool: () => Pool) {
  let reading: Promise<{ breaks: number; inDoubt: number } | undefined> | undefined;
  const read = () => {
    reading ??= pool()
      .query<{ breaks: number; in_doubt: number }>(
        `SELECT (SELECT count(*)::int FROM trade_breaks WHERE resolved_at IS NULL) AS breaks,
                (SELECT count(*)::int FROM placements WHERE in_doubt AND next_attempt_at IS NOT NULL) AS in_doubt`,
      )
      .then(({ rows }) => ({ breaks: rows[0]?.breaks ?? 0, inDoubt: rows[0]?.in_doubt ?? 0 }))
      .catch(() => undefined) // database away: keep the last values rather than fail the scrape
      .finally(() => setImmediate(() => (reading = undefined)));
    return reading;
  };
  const gauges = [
    [
      'market_trade_breaks_open',
      'Fills the exchange reported for orders our books had ended, not yet resolved by an operator',
      'breaks',
    ],
    [
      'market_placements_in_doubt',
      'Placements with an unanswered attempt, waiting for the exchange to say what became of it',
      'inDoubt',
    ],
  ] as const;
  for (const [name, help, reading] of gauges)
    new client.Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const now = await read();
        if (now) this.set(now[reading]);
      },
    });
}
