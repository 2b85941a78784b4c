// What the system did, read from where it keeps it: orders' database and RabbitMQ's queues.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type pg from 'pg';
import { Connection } from 'rabbitmq-client';

const run = promisify(execFile);

export interface SagaFigures {
  terminal: number;
  completionMs: { p50: number; p95: number; p99: number };
}

/** Orders created in [from, to): how many ended, and how long created → executed took. */
export async function sagaFigures(ordersDb: pg.Pool, from: Date, to: Date): Promise<SagaFigures> {
  const { rows } = await ordersDb.query<{ terminal: number; p: number[] | null }>(
    `SELECT count(*) FILTER (WHERE o.status IN ('executed', 'failed', 'canceled', 'expired'))::int AS terminal,
            percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM h.at - o.created_at) * 1000) AS p
       FROM orders o LEFT JOIN order_history h ON h.order_id = o.order_id AND h.status = 'executed'
      WHERE o.created_at >= $1 AND o.created_at < $2`,
    [from, to],
  );
  const [p50 = 0, p95 = 0, p99 = 0] = rows[0]?.p ?? [];
  return {
    terminal: rows[0]?.terminal ?? 0,
    completionMs: { p50, p95, p99 },
  };
}

/** Orders that reached executed per second within [from, to) (the sustained rate). */
export async function executedPerSecond(ordersDb: pg.Pool, from: Date, to: Date): Promise<number> {
  const { rows } = await ordersDb.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM order_history WHERE status = 'executed' AND at >= $1 AND at < $2`,
    [from, to],
  );
  return (rows[0]?.count ?? 0) / ((to.getTime() - from.getTime()) / 1000);
}

/** Orders not yet in a terminal status. */
export async function ordersInFlight(ordersDb: pg.Pool): Promise<number> {
  const { rows } = await ordersDb.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM orders WHERE status IN ('created', 'placed')`,
  );
  return rows[0]?.count ?? 0;
}

/** Messages waiting in a vhost's queues (ready, read live with a passive declare of each queue). */
export class QueueDepth {
  private names: string[] = [];
  private readonly connection: Connection;
  private readonly vhost: string;

  constructor(amqpUrl: string, vhost: string) {
    this.connection = new Connection(amqpUrl);
    this.vhost = vhost;
  }

  async refreshNames(): Promise<void> {
    const { stdout } = await run('rabbitmqctl', [
      '-q',
      'list_queues',
      '-p',
      this.vhost,
      '--no-table-headers',
      'name',
    ]);
    this.names = stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
  }

  async total(): Promise<number> {
    const counts = await Promise.all(
      this.names.map(async (queue) => {
        const ok = await this.connection.queueDeclare({ queue, passive: true }).catch(() => undefined);
        return ok?.messageCount ?? 0;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
