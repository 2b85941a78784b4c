// The PostgreSQL half of the exact-work floor: the statements the services sent for some
// orders, captured under load (/debug/statements), sent again by a bare client with nothing else
// to do, so the system's database cost per order can be read as a ratio to what the statements
// themselves cost. Each captured transaction is replayed as it was (same text, values, prepared
// like the services'), its deferred checks run, then rolled back, so it leaves nothing behind; the
// commits it did not make are measured apart, one small write each. It runs after the load, on
// the data the services left: an insert whose key exists by then fails and is left out, and a
// claim finds nothing left to claim, so the floor is a lower bound.
import { freshDatabase } from '@simplebank/chassis/testing';
import pg from 'pg';
import { pidsNamed, processCpuSeconds } from './processes.ts';

export interface CapturedStatement {
  connection: number;
  text: string;
  values?: unknown[];
}

/** What one service's connection did in one go: a transaction's statements, or one statement alone. */
export interface Unit {
  statements: CapturedStatement[];
}

const BEGIN = /^\s*BEGIN\b/i;
const END = /^\s*(COMMIT|ROLLBACK)\s*$/i; // not ROLLBACK TO SAVEPOINT

/**
 * The captured statements as transactions, per connection in the order sent: BEGIN … COMMIT
 * becomes one unit of what was between; a statement outside a transaction is a unit alone. A
 * transaction the capture cut short keeps what it caught. Pure.
 */
export function transactionsOf(statements: CapturedStatement[]): Unit[] {
  const units: Unit[] = [];
  const open = new Map<number, Unit>();
  for (const statement of statements) {
    const current = open.get(statement.connection);
    if (BEGIN.test(statement.text)) {
      if (current) units.push(current);
      open.set(statement.connection, { statements: [] });
    } else if (END.test(statement.text)) {
      if (current) units.push(current);
      open.delete(statement.connection);
    } else if (current) {
      current.statements.push(statement);
    } else {
      units.push({ statements: [statement] });
    }
  }
  units.push(...open.values());
  return units.filter((u) => u.statements.length > 0);
}

export interface PgFloor {
  /** Order-equivalents replayed: statements captured ÷ statements per order under load. */
  orders: number;
  statements: number;
  /** Statements that failed when replayed (a key the service's own run had since written): left out. */
  skipped: number;
  /** PostgreSQL CPU ms per order: the statements, then the commits apart. */
  statementCpuMsPerOrder: number;
  commitCpuMsPerOrder: number;
}

export interface Capture {
  databaseUrl: string;
  statements: CapturedStatement[];
}

/** Sends `statement` as the services do: prepared, named by its text. */
const send = (client: pg.PoolClient, names: Map<string, string>, { text, values }: CapturedStatement) => {
  if (!values) return client.query(text);
  let name = names.get(text);
  if (name === undefined) {
    name = `floor${names.size}`;
    names.set(text, name);
  }
  return client.query({ name, text, values });
};

/**
 * Replays `captures` (one per service database) and makes `transactionsPerOrder` commits per
 * order-equivalent on a scratch database, `connections` clients at a time; returns PostgreSQL's CPU
 * for each, per order.
 */
export async function pgFloor(
  captures: Capture[],
  perOrder: { statements: number; transactions: number },
  connections = 2,
): Promise<PgFloor> {
  const names = new Map<string, string>();
  const jobs: { databaseUrl: string; unit: Unit }[] = [];
  let captured = 0;
  for (const { databaseUrl, statements } of captures) {
    // every call counts, BEGIN and COMMIT too, as db_statements_total does
    captured += statements.length;
    for (const unit of transactionsOf(statements)) jobs.push({ databaseUrl, unit });
  }
  const orders = captured / perOrder.statements;

  const pools = new Map<string, pg.Pool>();
  const poolFor = (url: string) => {
    let pool = pools.get(url);
    if (!pool) {
      // idle clients stay: a backend that ends mid-measurement would take its CPU with it
      pool = new pg.Pool({
        connectionString: url,
        max: connections,
        idleTimeoutMillis: 0,
        options: '-c lock_timeout=2000',
      });
      pools.set(url, pool);
    }
    return pool;
  };
  try {
    // First, unmeasured: which statements fail on today's data (each behind a savepoint).
    const failing = new Set<CapturedStatement>();
    await eachJob(jobs, connections, async ({ databaseUrl, unit }) => {
      const client = await poolFor(databaseUrl).connect();
      try {
        await client.query('BEGIN');
        for (const statement of unit.statements) {
          await client.query('SAVEPOINT floor');
          await send(client, names, statement).then(
            () => client.query('RELEASE SAVEPOINT floor'),
            () => {
              failing.add(statement);
              return client.query('ROLLBACK TO SAVEPOINT floor');
            },
          );
        }
      } finally {
        await rollBack(client);
        client.release();
      }
    });

    const statementCpu = await postgresCpu(() =>
      eachJob(jobs, connections, async ({ databaseUrl, unit }) => {
        const client = await poolFor(databaseUrl).connect();
        try {
          await client.query('BEGIN');
          for (const statement of unit.statements)
            if (!failing.has(statement)) await send(client, names, statement);
        } catch {
          // a lock another replay holds, past lock_timeout: the rest of this one is lost, and rare
        } finally {
          await rollBack(client);
          client.release();
        }
      }),
    );

    const scratch = poolFor(await freshDatabase('simplebank_bench_floor'));
    await scratch.query(
      'CREATE TABLE commits (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())',
    );
    // every connection open before the measurement, so none is counted from its start
    const warm = await Promise.all(Array.from({ length: connections }, () => scratch.connect()));
    for (const client of warm) client.release();
    const commits = Math.round(orders * perOrder.transactions);
    const commitCpu = await postgresCpu(() =>
      eachJob(Array.from({ length: commits }), connections, async () => {
        const client = await scratch.connect();
        try {
          await client.query('BEGIN');
          await client.query('INSERT INTO commits DEFAULT VALUES');
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      }),
    );

    const perOrderMs = (seconds: number) => (seconds * 1000) / Math.max(orders, 1);
    return {
      orders,
      statements: captured,
      skipped: failing.size,
      statementCpuMsPerOrder: perOrderMs(statementCpu),
      commitCpuMsPerOrder: perOrderMs(commitCpu),
    };
  } finally {
    await Promise.all([...pools.values()].map((p) => p.end()));
  }
}

/**
 * Ends a replayed transaction leaving nothing behind, after running its deferred checks (a
 * ROLLBACK alone would skip them, and the services' COMMIT runs them: the ledger's balance check).
 */
async function rollBack(client: pg.PoolClient): Promise<void> {
  await client.query('SET CONSTRAINTS ALL IMMEDIATE').catch(() => undefined);
  await client.query('ROLLBACK').catch(() => undefined);
}

/** Runs `work` on every job, `concurrency` at a time. */
async function eachJob<J>(jobs: J[], concurrency: number, work: (job: J) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) await work(jobs[next++] as J);
    }),
  );
}

/**
 * PostgreSQL's CPU seconds, every process of it, spent while `work` ran: by process, so that a
 * backend that ends meanwhile (a stopped service's) takes nothing off the sum.
 */
async function postgresCpu(work: () => Promise<void>): Promise<number> {
  const before = new Map(pidsNamed('postgres').map((pid) => [pid, processCpuSeconds(pid)]));
  await work();
  return pidsNamed('postgres').reduce((sum, pid) => sum + processCpuSeconds(pid) - (before.get(pid) ?? 0), 0);
}

/**
 * Every statement the `targets` (service instances, each with its database) send for `seconds`,
 * through their /debug/statements; a target without the route (no DEBUG_TOKEN, or public) is skipped.
 */
export async function captureStatements(
  targets: { url: string; databaseUrl: string }[],
  seconds: number,
  token: string,
): Promise<Capture[]> {
  const captures = await Promise.all(
    targets.map(async ({ url, databaseUrl }) => {
      const response = await fetch(`${url}/debug/statements?seconds=${seconds}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout((seconds + 30) * 1000),
      }).catch(() => undefined);
      if (!response?.ok) return undefined;
      const { statements } = (await response.json()) as { statements: CapturedStatement[] };
      return { databaseUrl, statements };
    }),
  );
  return captures.filter((c): c is Capture => c !== undefined && c.statements.length > 0);
}
