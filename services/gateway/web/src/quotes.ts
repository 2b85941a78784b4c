import { decimalToCents } from '@simplebank/contracts/money';
import type { Quote } from './api.ts';
import { renderCost } from './order-entry.ts';
import { $, cell, money, state } from './state.ts';

// The screen's market data: the quote board and the symbols an order may name.

export function updateQuotes(quotes: Quote[]): void {
  for (const quote of quotes) {
    const cents = decimalToCents(quote.price);
    const known = state.quotes.get(quote.symbol);
    state.quotes.set(quote.symbol, {
      cents,
      previousCents: known?.cents ?? cents,
      openCents: known?.openCents ?? cents,
      stale: quote.stale === true,
    });
  }
  renderQuotes();
  renderSymbols();
  renderCost();
}

function renderQuotes(): void {
  const body = $<HTMLTableElement>('quotes').tBodies[0] as HTMLTableSectionElement;
  body.replaceChildren();
  for (const [symbol, track] of [...state.quotes].sort(([a], [b]) => a.localeCompare(b))) {
    const row = body.insertRow();
    row.dataset.symbol = symbol;
    cell(row, symbol);
    cell(row, money(track.cents), 'num');
    // movement since this screen opened, and the arrow of the latest tick
    const change = track.cents - track.openCents;
    const arrow = track.cents > track.previousCents ? '▲' : track.cents < track.previousCents ? '▼' : '';
    const changeCell = cell(
      row,
      `${arrow} ${change > 0 ? '+' : ''}${money(change)}`.trim(),
      `num ${change > 0 ? 'up' : change < 0 ? 'down' : ''}`,
    );
    changeCell.title = 'Change since you opened the screen';
  }
  const stale = [...state.quotes.values()].some((t) => t.stale);
  $('quotes-status').textContent = stale
    ? 'Market data is unavailable: showing the last known prices.'
    : `Live · updated ${new Date().toLocaleTimeString()}`;
}

function renderSymbols(): void {
  const select = $<HTMLSelectElement>('symbol');
  const symbols = [...state.quotes.keys()].sort();
  if (select.options.length === symbols.length) return;
  const chosen = select.value;
  select.replaceChildren(...symbols.map((s) => new Option(s, s)));
  if (symbols.includes(chosen)) select.value = chosen;
}
