import { describe, expect, it } from 'vitest';
import { PriceBoard } from '../src/domain/price-board.ts';

describe('price board', () => {
  it('holds a pinned price through the random walk, and walks again once unpinned', () => {
    const board = new PriceBoard(new Map([['ACME', 10_000]]), 0);
    board.pin('ACME', 9_000, 10);
    board.step(20, () => 0);
    expect(board.quote('ACME')).toMatchObject({ price_cents: 9_000, pinned: true });
    board.unpin('ACME');
    board.step(30, () => 0);
    expect(board.quote('ACME')).toMatchObject({ price_cents: 8_955, pinned: false });
    expect(board.cents()).toEqual(new Map([['ACME', 8_955]]));
  });

  it('knows only the symbols it opened with', () => {
    const board = new PriceBoard(new Map([['ACME', 10_000]]), 0);
    expect(board.has('ACME')).toBe(true);
    expect(board.pin('NOPE', 1, 0)).toBeUndefined();
    expect(board.unpin('NOPE')).toBeUndefined();
  });
});
