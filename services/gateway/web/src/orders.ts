import type { Order, OrderNews, Quote, Status } from './api.ts';
import { loadAccount, loadAccountAfterSettlement } from './holdings.ts';
import { updateQuotes } from './quotes.ts';
import { $, api, cell, handle, moneyOf, showProblem, state, TERMINAL, traces } from './state.ts';
import { openStream } from './stream.ts';
import { reasonInWords, statusInWords } from './words.ts';

// The screen's orders and their status, live from the account's stream.

export async function loadOrders(): Promise<void> {
  try {
    let ended = false;
    for (const order of await api.orders(state.accountId)) {
      const before = state.orders.get(order.order_id);
      remember(order);
      // a status reached while the stream was not open yet, or away, is said as its news would be
      if (before && rank(order.status) > rank(before.status)) {
        announce(order, order.status, order.reason);
        ended ||= TERMINAL.has(order.status);
      }
    }
    renderOrders();
    if (ended) void loadAccountAfterSettlement();
  } catch (error) {
    handle(error, 'load the orders');
  }
}

export function renderOrders(): void {
  const body = $<HTMLTableElement>('orders').tBodies[0] as HTMLTableSectionElement;
  body.replaceChildren();
  const orders = [...state.orders.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
  for (const order of orders) {
    const row = body.insertRow();
    row.dataset.orderId = order.order_id;
    row.dataset.status = order.status;
    cell(row, new Date(order.created_at).toLocaleTimeString());
    const fill = order.fill_price ? ` at ${moneyOf(order.fill_price)}` : '';
    cell(row, `${order.side} ${order.quantity} ${order.symbol}${fill}`);
    const status = cell(row, statusInWords(order.status), `status status-${order.status}`);
    if (order.status === 'failed' && order.reason) {
      const why = document.createElement('span');
      why.className = 'reason';
      why.textContent = ` — ${reasonInWords(order.reason)}`;
      status.append(why);
    }
    const traceCell = row.insertCell();
    const traceId = traces.get(order.order_id);
    if (traceId) {
      const link = document.createElement('a');
      link.href = `${state.jaeger.replace(/\/$/, '')}/trace/${traceId}`;
      link.target = '_blank';
      link.rel = 'noopener';
      link.textContent = traceId.slice(0, 8);
      link.setAttribute('aria-label', `Trace ${traceId} in Jaeger`);
      traceCell.append(link);
    }
    const actions = row.insertCell();
    // created, or resting on the exchange: a cancel withdraws it there unless it filled first
    if (order.status === 'created' || order.status === 'placed') {
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.className = 'secondary';
      cancel.textContent = 'Cancel';
      cancel.setAttribute('aria-label', `Cancel ${order.side} ${order.quantity} ${order.symbol}`);
      cancel.addEventListener('click', () => cancelOrder(order.order_id, cancel));
      actions.append(cancel);
    }
  }
}

async function cancelOrder(orderId: string, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  button.textContent = 'Cancelling…';
  showProblem(null);
  try {
    await api.cancel(orderId);
  } catch (error) {
    handle(error, 'cancel the order');
    button.disabled = false;
    button.textContent = 'Cancel';
  }
}

const RANK: Record<string, number> = { created: 0, placed: 1 };
const rank = (status: string) => RANK[status] ?? 2;

/** Keeps the furthest status: news and answers to reads may arrive in any order. */
export function remember(order: Order): void {
  const current = state.orders.get(order.order_id);
  if (current && rank(current.status) > rank(order.status)) {
    state.orders.set(order.order_id, { ...order, status: current.status, reason: current.reason });
  } else {
    state.orders.set(order.order_id, order);
  }
}

/** Says an order's status in the live region (read out by screen readers). */
export function announce(
  order: Pick<Order, 'order_id' | 'side' | 'quantity' | 'symbol'> | { order_id: string },
  status: Status,
  reason: string | null | undefined,
): void {
  // news handled concurrently can be read back out of order: never announce a step back
  const current = state.orders.get(order.order_id);
  if (current && rank(current.status) > rank(status)) return;
  const what =
    'side' in order ? `${order.side} ${order.quantity} ${order.symbol}` : order.order_id.slice(0, 8);
  const why = status === 'failed' && reason ? ` (${reasonInWords(reason)})` : '';
  $('announce').textContent = `Order ${what}: ${statusInWords(status)}${why}.`;
}

/** An order's new status from the stream: shown at once, then the whole order (fill, fee) read. */
async function onOrderNews(news: OrderNews): Promise<void> {
  if (news.account_id !== state.accountId) return;
  const known = state.orders.get(news.order_id);
  if (known) {
    remember({ ...known, status: news.status, reason: news.reason });
    announce(known, news.status, news.reason);
    renderOrders();
  }
  // news can come before the answer to the order's own POST: then it is announced once read
  try {
    const order = await api.order(news.order_id);
    remember(order);
    if (!known) announce(order, news.status, news.reason);
    renderOrders();
  } catch (error) {
    if (!known) announce({ order_id: news.order_id }, news.status, news.reason);
    handle(error, 'load the order');
  }
  if (TERMINAL.has(news.status)) void loadAccountAfterSettlement();
  else if (news.status === 'placed') void loadAccount();
}

export function startStream(): void {
  state.stopStream?.();
  if (!api.token) return;
  state.stopStream = openStream(`/accounts/${encodeURIComponent(state.accountId)}/stream`, api.token, {
    onEvent: (event, data) => {
      if (event === 'order') void onOrderNews(data as OrderNews);
      if (event === 'quotes') updateQuotes((data as { quotes: Quote[] }).quotes);
    },
    onState: (streamState) => {
      $('live-status').textContent =
        streamState === 'open'
          ? 'Live: statuses update as they change.'
          : streamState === 'reconnecting'
            ? 'Live updates interrupted; reconnecting…'
            : '';
      // what changed while the stream was down
      if (streamState === 'open') void loadOrders();
    },
  });
}
