import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import pg from 'pg';

export type Pool = pg.Pool;
export type Tx = pg.PoolClient;

// COUNT(*) and SUM() come back as int8/numeric strings; our amounts fit in a JS safe integer.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** Creates the database when it does not exist yet; safe when several processes race to do it. */
export async function ensureDatabase(serverUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${serverUrl}/postgres`, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) {
      await client
        .query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`)
        .catch((error: { code?: string }) => {
          // 42P04 duplicate_database, 23505 unique_violation: another instance won the race
          if (error.code !== '42P04' && error.code !== '23505') throw error;
        });
    }
  } finally {
    await client.end();
  }
}

/** Limits every session of a pool gets (0 turns one off). */
export interface SessionGuards {
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

export const DEFAULT_SESSION_GUARDS: SessionGuards = {
  lockTimeoutMs: 5000,
  statementTimeoutMs: 15_000,
  idleInTransactionTimeoutMs: 30_000,
};

/** Statements sent on a connection so far (`countStatements`). */
const STATEMENTS = Symbol('statements');
type CountedClient = pg.PoolClient & { [STATEMENTS]?: number };

/** One statement as sent: on which of the process' connections, its text and its values. */
export interface CapturedStatement {
  connection: number;
  text: string;
  values?: unknown[];
}

let captured: CapturedStatement[] | undefined;
let connections = 0;
/** The most a capture holds (its values with them): a long one under load must not exhaust memory. */
const CAPTURE_CAP = 100_000;

/**
 * Every statement this process sends for `ms`, in order (the bench replays them as the exact-work
 * floor, see /debug/statements). One capture at a time; nothing is recorded outside one.
 */
export async function captureStatements(ms: number): Promise<CapturedStatement[]> {
  if (captured !== undefined) throw new Error('statements are being captured already');
  captured = [];
  try {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return captured;
  } finally {
    captured = undefined;
  }
}

/**
 * A pool whose sessions cannot hang: a lock wait, a statement or a transaction left idle (its
 * process stuck or gone) ends after its limit instead of holding connections and locks for good;
 * TCP keep-alive notices a database host that vanished without closing the connection.
 * `onStatement` is told of every statement sent (the `db_statements_total` counter).
 */
export function createPool(
  connectionString: string,
  max: number,
  guards = DEFAULT_SESSION_GUARDS,
  onStatement: () => void = () => undefined,
  { prepare = false }: { prepare?: boolean } = {},
): Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    lock_timeout: guards.lockTimeoutMs,
    statement_timeout: guards.statementTimeoutMs,
    idle_in_transaction_session_timeout: guards.idleInTransactionTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  pool.on('connect', (client) => countStatements(client, onStatement, prepare));
  return pool;
}

/**
 * Names given to parameterised statements, by their text: node-postgres prepares a named statement
 * once per connection and then only binds it, where an unnamed one is parsed and planned every
 * time. The texts are the code's own (a few hundred at most); past the cap a text goes unnamed.
 */
const preparedNames = new Map<string, string>();
const PREPARED_CAP = 1000;

function preparedName(text: string): string | undefined {
  let name = preparedNames.get(text);
  if (name === undefined && preparedNames.size < PREPARED_CAP && !text.includes(';')) {
    name = `sb${preparedNames.size}`;
    preparedNames.set(text, name);
  }
  return name;
}

/**
 * Counts what `client` sends: per connection (for a transaction's span) and to `onStatement`;
 * with `prepare`, sends each parameterised statement as a prepared one.
 */
function countStatements(client: pg.PoolClient, onStatement: () => void, prepare: boolean): void {
  const counted = client as CountedClient;
  const query = client.query;
  const connection = ++connections;
  counted[STATEMENTS] = 0;
  counted.query = function (this: pg.PoolClient, ...args: unknown[]) {
    counted[STATEMENTS] = (counted[STATEMENTS] ?? 0) + 1;
    onStatement();
    const [text, values, ...rest] = args;
    if (captured !== undefined && captured.length < CAPTURE_CAP && typeof text === 'string')
      captured.push({ connection, text, ...(Array.isArray(values) ? { values } : {}) });
    const name =
      prepare && typeof text === 'string' && Array.isArray(values) ? preparedName(text) : undefined;
    const sent = name === undefined ? args : [{ name, text, values }, ...rest];
    return (query as (...a: unknown[]) => unknown).apply(this, sent);
  } as typeof client.query;
}

/** Statements sent on `tx` so far, for spans: 0 on a connection not from `createPool`. */
export const statementsSent = (tx: Tx): number => (tx as CountedClient)[STATEMENTS] ?? 0;

/**
 * Runs `work` in one transaction; rolls back when it throws. What it did is counted on the
 * active span (`db.statements`, `db.duration_ms`), in place of a span per statement.
 */
export async function transaction<T>(pool: Pool, work: (tx: Tx) => Promise<T>): Promise<T> {
  const tx = await pool.connect();
  const started = performance.now();
  const sentBefore = statementsSent(tx);
  // A connection that dies while checked out (the database restarting) emits 'error' between
  // queries, which would end the process unheard; the next query fails instead, and the client is
  // discarded rather than returned to the pool.
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  tx.on('error', onError);
  try {
    await tx.query('BEGIN');
    const result = await work(tx);
    await tx.query('COMMIT');
    return result;
  } catch (error) {
    await tx.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    trace.getActiveSpan()?.setAttributes({
      'db.statements': statementsSent(tx) - sentBefore,
      'db.duration_ms': Math.round(performance.now() - started),
    });
    tx.off('error', onError);
    tx.release(broken);
  }
}

/**
 * Holds a transaction-scoped advisory lock until `tx` ends: a number, or a text key (an order id,
 * hashed). Serializes what two transactions would otherwise do at once on rows that may not exist yet.
 */
export async function lockUntilCommit(tx: Tx, key: number | string): Promise<void> {
  await (typeof key === 'number'
    ? tx.query('SELECT pg_advisory_xact_lock($1)', [key])
    : tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]));
}

const MIGRATION_LOCK = 0x5b4e4b; // one advisory lock key for every service's migrations

/**
 * Applies `*.sql` files from each directory in name order, each once, recorded in
 * `schema_migrations`. One transaction under an advisory lock, so instances that start together
 * apply them once and all see the finished schema.
 */
export async function migrate(pool: Pool, directories: string[]): Promise<string[]> {
  const files: { name: string; path: string }[] = [];
  for (const dir of directories) {
    for (const name of (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()) {
      files.push({ name, path: join(dir, name) });
    }
  }
  return transaction(pool, async (tx) => {
    // Not the guards of a handler's session: an instance waits for another's migrations, and a
    // migration (an index on a big table) may rightly take minutes.
    await tx.query('SET LOCAL lock_timeout = 0');
    await tx.query('SET LOCAL statement_timeout = 0');
    await lockUntilCommit(tx, MIGRATION_LOCK);
    await tx.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await tx.query<{ name: string }>('SELECT name FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.name));
    const ran: string[] = [];
    for (const file of files) {
      if (applied.has(file.name)) continue;
      await tx.query(await readFile(file.path, 'utf8'));
      await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file.name]);
      ran.push(file.name);
    }
    return ran;
  });
}
