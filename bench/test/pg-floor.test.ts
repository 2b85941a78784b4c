import { describe, expect, it } from 'vitest';
import { type CapturedStatement, transactionsOf } from '../src/pg-floor.ts';

const on = (connection: number, text: string, values?: unknown[]): CapturedStatement => ({
  connection,
  text,
  ...(values ? { values } : {}),
});
const texts = (units: ReturnType<typeof transactionsOf>) => units.map((u) => u.statements.map((s) => s.text));

describe('transactionsOf: captured statements as the transactions they were sent in', () => {
  it('groups BEGIN … COMMIT per connection, even when two connections interleave', () => {
    const units = transactionsOf([
      on(1, 'BEGIN'),
      on(2, 'BEGIN'),
      on(1, 'INSERT INTO inbox VALUES ($1)', ['a']),
      on(2, 'UPDATE accounts SET cash = $1', [5]),
      on(1, 'INSERT INTO outbox VALUES ($1)', ['b']),
      on(2, 'ROLLBACK'),
      on(1, 'COMMIT'),
    ]);
    expect(texts(units)).toEqual([
      ['UPDATE accounts SET cash = $1'],
      ['INSERT INTO inbox VALUES ($1)', 'INSERT INTO outbox VALUES ($1)'],
    ]);
    expect(units[1]?.statements[0]?.values).toEqual(['a']);
  });

  it('a statement outside a transaction is one alone; an empty transaction is nothing', () => {
    expect(
      texts(transactionsOf([on(1, 'SELECT 1'), on(1, 'BEGIN'), on(1, 'COMMIT'), on(1, 'SELECT 2')])),
    ).toEqual([['SELECT 1'], ['SELECT 2']]);
  });

  it('keeps what it caught of transactions the capture cut at either end', () => {
    const units = transactionsOf([
      on(1, 'UPDATE a SET x = 1'), // its BEGIN came before the capture
      on(1, 'COMMIT'),
      on(2, 'BEGIN'),
      on(2, 'UPDATE b SET x = 1'), // its COMMIT came after
    ]);
    expect(texts(units)).toEqual([['UPDATE a SET x = 1'], ['UPDATE b SET x = 1']]);
  });
});
