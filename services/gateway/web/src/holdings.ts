import { renderCost } from './order-entry.ts';
import { $, api, cell, handle, moneyOf, state } from './state.ts';

// The screen's holdings: positions and cash, read again as orders end.

export async function loadAccount(): Promise<void> {
  try {
    state.account = await api.account(state.accountId);
    renderHoldings();
    renderCost();
  } catch (error) {
    handle(error, 'load the account');
  }
}

/**
 * After an order ends, its account settles on its own: account-transactions takes the same fill,
 * cancel or failure as orders, in its own time, so the first read may come before it. Read again,
 * a few times at most, while a hold is left that no open order explains.
 */
export async function loadAccountAfterSettlement(): Promise<void> {
  for (const pauseMs of [0, 250, 500, 1000, 2000, 4000]) {
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    await loadAccount();
    if (!holdsLeftOver()) return;
  }
}

function holdsLeftOver(): boolean {
  const account = state.account;
  if (!account) return false;
  // an open order's own news reads the account again when it ends
  const open = [...state.orders.values()].some((o) => o.status === 'created' || o.status === 'placed');
  if (open) return false;
  return account.positions.some((p) => p.reserved > 0) || !/^0(\.0+)?$/.test(account.cash.reserved);
}

export function renderHoldings(): void {
  const account = state.account;
  if (!account) return;
  const body = $<HTMLTableElement>('holdings').tBodies[0] as HTMLTableSectionElement;
  body.replaceChildren();
  for (const position of account.positions) {
    const row = body.insertRow();
    row.dataset.symbol = position.symbol;
    cell(row, position.symbol);
    cell(row, String(position.quantity), 'num');
    cell(row, String(position.reserved), 'num');
    cell(row, moneyOf(position.current_value), 'num');
  }
  $('cash-available').textContent = moneyOf(account.cash.available);
  $('cash-reserved').textContent = moneyOf(account.cash.reserved);
}
