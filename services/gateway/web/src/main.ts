import { centsToDecimal, decimalToCents } from '@simplebank/contracts/money';
import { type Account, Api, ApiError, type Order, type OrderNews, type Quote, type Status } from './api.ts';
import { inDoubt, OrderIntent, untilAnswered } from './order-intent.ts';
import { openStream } from './stream.ts';
import { problemInWords, reasonInWords, statusInWords } from './words.ts';
import './style.css';

// The place-order screen (book §2.4): holdings, market data, order entry with its cost, and the
// order's status as it changes. Money is integer cents in here, shown as exact decimals.

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const api = new Api();
/** The order being sent and its Idempotency-Key, kept until the gateway answers it. */
const intent = new OrderIntent(() => crypto.randomUUID());
const TERMINAL = new Set(['executed', 'failed', 'canceled', 'expired']);

interface PriceTrack {
  cents: number;
  previousCents: number;
  openCents: number;
  stale: boolean;
}

const state = {
  jaeger: 'http://localhost:16686',
  accountId: '',
  account: null as Account | null,
  quotes: new Map<string, PriceTrack>(),
  orders: new Map<string, Order>(),
  feeRequest: 0,
  stopStream: null as null | (() => void),
};

/** Trace ids of the orders sent from this browser, to link them to Jaeger. */
const traces = {
  get: (orderId: string) => sessionStorage.getItem(`trace:${orderId}`),
  set: (orderId: string, traceId: string) => sessionStorage.setItem(`trace:${orderId}`, traceId),
};

/** 1234567 cents → "12,345.67" (exact: the digits of the decimal string, grouped). */
function money(cents: number): string {
  const [whole = '0', fraction = '00'] = centsToDecimal(cents).split('.');
  const sign = whole.startsWith('-') ? '-' : '';
  return `${sign}${whole.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${fraction}`;
}
const moneyOf = (decimal: string | null) => (decimal === null ? '–' : money(decimalToCents(decimal)));

function showProblem(text: string | null): void {
  const box = $('problem');
  box.textContent = text ?? '';
  box.hidden = text === null;
}

function handle(error: unknown, doing: string): void {
  if (error instanceof ApiError) {
    showProblem(problemInWords(error, doing));
    if (error.code === 'unauthorized') signOut(false);
  } else {
    showProblem(`Could not ${doing}: ${(error as Error).message}`);
  }
}

function cell(row: HTMLTableRowElement, text: string, className = ''): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

// 1. Holdings

async function loadAccount(): Promise<void> {
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
async function loadAccountAfterSettlement(): Promise<void> {
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

function renderHoldings(): void {
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

// 2. Market data

function updateQuotes(quotes: Quote[]): void {
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

// 3. Order entry and its cost

const orderInput = () => {
  const side = (document.querySelector('input[name="side"]:checked') as HTMLInputElement).value as
    | 'sell'
    | 'buy';
  const symbol = $<HTMLSelectElement>('symbol').value;
  const raw = $<HTMLInputElement>('quantity').value;
  const quantity = /^[1-9]\d{0,6}$/.test(raw) ? Number(raw) : 0;
  return { side, symbol, quantity };
};

function setCost(price = '–', value = '–', fee = '–', total = '–', after = '–'): void {
  $('cost-price').textContent = price;
  $('cost-value').textContent = value;
  $('cost-fee').textContent = fee;
  $('cost-total').textContent = total;
  $('cost-after').textContent = after;
}

/** quantity × price, the fee from the fees service, the total and what the account holds after. */
async function renderCost(): Promise<void> {
  const { side, symbol, quantity } = orderInput();
  $('cost-total-label').textContent = side === 'sell' ? 'Total you receive' : 'Total you pay';
  const track = state.quotes.get(symbol);
  if (!track || quantity === 0 || !state.account) {
    setCost(track ? money(track.cents) : '–');
    return;
  }
  const valueCents = quantity * track.cents;
  const request = ++state.feeRequest;
  let feeCents: number;
  try {
    feeCents = decimalToCents((await api.fee(side, symbol, quantity)).fee);
  } catch (error) {
    if (request === state.feeRequest) {
      setCost(money(track.cents), money(valueCents), 'unavailable');
      handle(error, 'work out the fee');
    }
    return;
  }
  if (request !== state.feeRequest) return; // a newer input is being priced
  const totalCents = side === 'sell' ? valueCents - feeCents : valueCents + feeCents;
  const held = state.account.positions.find((p) => p.symbol === symbol)?.quantity ?? 0;
  const cashCents = decimalToCents(state.account.cash.available);
  const sharesAfter = side === 'sell' ? held - quantity : held + quantity;
  const cashAfter = side === 'sell' ? cashCents + totalCents : cashCents - totalCents;
  // said before sending; the saga decides (the holdings shown may be a moment old)
  const short =
    sharesAfter < 0
      ? ` — you hold only ${held} ${symbol}`
      : cashAfter < 0
        ? ' — more than the cash available'
        : '';
  setCost(
    money(track.cents),
    money(valueCents),
    money(feeCents),
    money(totalCents),
    `${sharesAfter} ${symbol} and ${money(cashAfter)} cash${short}`,
  );
  $('cost-after').classList.toggle('down', short !== '');
}

async function sendOrder(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const { side, symbol, quantity } = orderInput();
  if (quantity === 0) {
    showProblem('Enter a whole number of shares, at least 1.');
    $('quantity').focus();
    return;
  }
  showProblem(null);
  const button = $<HTMLButtonElement>('send');
  button.disabled = true;
  // one key per order the customer means: retries, and Send pressed again on the same terms after
  // no answer, carry it, so a lost answer never places a second order
  const key = intent.keyFor({ accountId: state.accountId, side, symbol, quantity });
  try {
    const { body, traceId } = await untilAnswered(
      () => api.place(side, state.accountId, symbol, quantity, key),
      { onRetry: () => showProblem('No answer yet: trying again with the same order…') },
    );
    intent.answered();
    showProblem(null);
    if (traceId) traces.set(body.order_id, traceId);
    const now = new Date().toISOString();
    remember({
      order_id: body.order_id,
      account_id: state.accountId,
      side,
      symbol,
      quantity,
      status: 'created',
      limit_price: '0.00',
      fee: null,
      fill_price: null,
      reason: null,
      created_at: now,
      updated_at: now,
    });
    // its news may have come first, read by a refresh before this answer: say where it is
    const known = state.orders.get(body.order_id);
    if (known && known.status !== 'created') announce(known, known.status, known.reason);
    renderOrders();
    void loadAccount();
  } catch (error) {
    if (!inDoubt(error)) intent.answered();
    handle(error, `${side} ${quantity} ${symbol}`);
  } finally {
    button.disabled = false;
  }
}

// 4. Orders and their status, live

async function loadOrders(): Promise<void> {
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

function renderOrders(): void {
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
function remember(order: Order): void {
  const current = state.orders.get(order.order_id);
  if (current && rank(current.status) > rank(order.status)) {
    state.orders.set(order.order_id, { ...order, status: current.status, reason: current.reason });
  } else {
    state.orders.set(order.order_id, order);
  }
}

/** Says an order's status in the live region (read out by screen readers). */
function announce(
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

function startStream(): void {
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

// Sign in and out

async function enter(): Promise<void> {
  $('sign-in-view').hidden = true;
  $('trading-view').hidden = false;
  $('who').hidden = false;
  try {
    const [accounts, settings, quotes] = await Promise.all([api.accounts(), api.settings(), api.quotes()]);
    state.jaeger = settings.jaeger_ui_url;
    const select = $<HTMLSelectElement>('account');
    select.replaceChildren(...accounts.map((a) => new Option(a.account_id, a.account_id)));
    state.accountId = accounts[0]?.account_id ?? '';
    state.account = accounts[0] ?? null;
    $('who-name').textContent = `Signed in as ${accounts[0]?.owner ?? ''}`;
    updateQuotes(quotes);
    renderHoldings();
    await loadOrders();
    startStream();
  } catch (error) {
    handle(error, 'load your accounts');
  }
}

function signOut(clearProblem = true): void {
  state.stopStream?.();
  state.stopStream = null;
  api.token = null;
  sessionStorage.removeItem('token');
  state.orders.clear();
  state.quotes.clear();
  if (clearProblem) showProblem(null);
  $('trading-view').hidden = true;
  $('who').hidden = true;
  $('sign-in-view').hidden = false;
  $('username').focus();
}

$('sign-in').addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = $<HTMLInputElement>('username').value.trim();
  const password = $<HTMLInputElement>('password').value;
  if (!username || !password) {
    showProblem('Enter your username and password.');
    return;
  }
  try {
    await api.signIn(username, password);
    sessionStorage.setItem('token', api.token ?? '');
    showProblem(null);
    $<HTMLInputElement>('password').value = '';
    await enter();
  } catch (error) {
    handle(error, 'sign in');
  }
});
$('sign-out').addEventListener('click', () => signOut());
$('account').addEventListener('change', () => {
  state.accountId = $<HTMLSelectElement>('account').value;
  state.orders.clear();
  void loadAccount();
  void loadOrders();
  startStream();
});
$('order-form').addEventListener('submit', (event) => void sendOrder(event as SubmitEvent));
$('order-form').addEventListener('input', () => void renderCost());

// a reload keeps the session of this tab
const saved = sessionStorage.getItem('token');
if (saved) {
  api.token = saved;
  void enter();
} else {
  $('username').focus();
}
