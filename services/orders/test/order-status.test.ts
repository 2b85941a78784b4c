import { describe, expect, it } from 'vitest';
import { isTerminal, type OrderStatus, statusChange, statusOnFailure } from '../src/domain/order-status.ts';

const terminal: OrderStatus[] = ['executed', 'expired', 'failed', 'canceled'];

describe('order status', () => {
  it('follows the saga: created → placed → executed or expired', () => {
    expect(statusChange('created', 'placed')).toBe('advance');
    expect(statusChange('placed', 'executed')).toBe('advance');
    expect(statusChange('placed', 'expired')).toBe('advance');
  });

  it('fails or cancels an order that was not placed', () => {
    expect(statusChange('created', 'failed')).toBe('advance');
    expect(statusChange('created', 'canceled')).toBe('advance');
  });

  it('executes or expires an order whose OrderPlaced has not arrived yet', () => {
    expect(statusChange('created', 'executed')).toBe('advance');
    expect(statusChange('created', 'expired')).toBe('advance');
  });

  it('records a late placed in the history of an executed or expired order', () => {
    expect(statusChange('executed', 'placed')).toBe('record');
    expect(statusChange('expired', 'placed')).toBe('record');
  });

  it('never moves backwards or out of a terminal state', () => {
    expect(statusChange('placed', 'created')).toBe('ignore');
    expect(statusChange('placed', 'placed')).toBe('ignore');
    for (const from of terminal) {
      for (const to of ['created', ...terminal] as OrderStatus[])
        expect(statusChange(from, to)).toBe('ignore');
    }
  });

  it('ignores a placed that contradicts a failure, and a failure after placement', () => {
    expect(statusChange('failed', 'placed')).toBe('ignore');
    expect(statusChange('placed', 'failed')).toBe('ignore');
  });

  it('cancels a placed order the exchange withdrew; a placed arriving after a cancel changes nothing', () => {
    expect(statusChange('placed', 'canceled')).toBe('advance');
    expect(statusChange('canceled', 'placed')).toBe('ignore');
  });

  it('knows the terminal statuses', () => {
    expect(terminal.every(isTerminal)).toBe(true);
    expect(isTerminal('created')).toBe(false);
    expect(isTerminal('placed')).toBe(false);
  });

  it('cancels when the customer asked, fails otherwise', () => {
    expect(statusOnFailure('canceled_by_customer')).toBe('canceled');
    expect(statusOnFailure('exchange_rejected')).toBe('failed');
  });
});
