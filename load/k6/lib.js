// What every k6 scenario shares: the gateway's address, the seeded customers (`pnpm seed` writes
// load/k6/credentials.json), sign-in, trace context on every request, placing an order and
// following it to a terminal state. k6 runs this file itself: plain JavaScript, k6 modules only.
import { check, fail, sleep } from 'k6';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Rate, Trend } from 'k6/metrics';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
/** Sell or buy this many shares per order. */
export const QUANTITY = Number(__ENV.QUANTITY || 1);
/** How long an order may take to reach a terminal state before it counts as not reaching one. */
export const TERMINAL_DEADLINE_MS = Number(__ENV.TERMINAL_DEADLINE_MS || 10000);
/** Requests slower than this are logged with their trace id, to open in Jaeger. */
export const SLOW_MS = Number(__ENV.SLOW_MS || 1000);
const SYMBOLS = (__ENV.SYMBOLS || 'ACME,GLOBEX,INITECH,UMBRELLA,HOOLI').split(',');
const TERMINAL = ['executed', 'failed', 'canceled', 'expired'];

/** `pnpm seed` writes the file; CREDENTIALS points elsewhere (a path relative to this file, or absolute). */
const credentials = new SharedArray('credentials', () => {
  const rows = JSON.parse(open(__ENV.CREDENTIALS || './credentials.json'));
  if (rows.length === 0) throw new Error('no credentials: run `pnpm seed` first');
  return rows;
});

/** Orders the gateway accepted (202). */
export const ordersAccepted = new Counter('orders_accepted');
/** Of the orders followed: reached executed, failed, canceled or expired within TERMINAL_DEADLINE_MS. */
export const ordersTerminal = new Rate('orders_terminal');
/** Of the orders that ended: ended executed. */
export const ordersExecuted = new Rate('orders_executed');
/** From the 202 to the first GET that saw the order's terminal state. */
export const orderCompletion = new Trend('order_completion', true);

const hex = (length) => {
  let out = '';
  for (let i = 0; i < length; i++) out += Math.floor(Math.random() * 16).toString(16);
  return out;
};

/**
 * A new W3C trace for this iteration: every request of the iteration carries
 * `traceparent: 00-<trace id>-<span id>-01`, so the gateway's spans (and the saga's after them)
 * join it. The trace id goes on the samples as metadata (not a tag: one per iteration would make
 * a time series each), and on the log line of every slow request.
 */
export function newTrace() {
  const traceId = hex(32);
  exec.vu.metrics.metadata.trace_id = traceId;
  return traceId;
}

let trace = '';
function headers(token, extra) {
  if (!trace) trace = newTrace();
  const out = { 'content-type': 'application/json', traceparent: `00-${trace}-${hex(16)}-01` };
  if (token) out.authorization = `Bearer ${token}`;
  return Object.assign(out, extra || {});
}

/** Starts a new trace; call it at the top of every iteration. */
export function beginIteration() {
  trace = newTrace();
}

function logIfSlow(name, response) {
  if (response.timings.duration > SLOW_MS) {
    console.warn(
      `slow ${name}: ${Math.round(response.timings.duration)} ms, status ${response.status}, trace ${trace}` +
        ` (gateway trace-id ${response.headers['Trace-Id'] || '-'})`,
    );
  }
}

function request(method, path, body, token, kind, name, extraHeaders) {
  const response = http.request(method, `${BASE_URL}${path}`, body === null ? null : JSON.stringify(body), {
    headers: headers(token, extraHeaders),
    tags: { kind, name },
  });
  logIfSlow(name, response);
  return response;
}

/** Signs one customer in; answers `{ token, expiresAt, username, account_id }`. */
export function signIn(customer) {
  const response = request('POST', '/auth/token', customer, null, 'auth', 'POST /auth/token');
  if (!check(response, { 'signed in': (r) => r.status === 200 })) {
    fail(`sign-in as ${customer.username}: ${response.status} ${response.body}`);
  }
  const { access_token, expires_in } = response.json();
  return {
    username: customer.username,
    account_id: customer.account_id,
    token: access_token,
    expiresAt: Date.now() + expires_in * 1000,
  };
}

/**
 * For `setup()`: signs in up to CUSTOMERS seeded customers (default 50), once each, so the VUs share
 * their tokens instead of each signing in (sign-ins are limited per IP address: AUTH_RATE_LIMIT_MAX).
 */
export function signInAll() {
  const count = Math.min(credentials.length, Number(__ENV.CUSTOMERS || 50));
  const sessions = [];
  for (let i = 0; i < count; i++) {
    const row = credentials[i];
    const session = signIn({ username: row.username, password: row.password });
    session.account_id = row.account_id;
    sessions.push(session);
  }
  return { sessions };
}

const refreshed = {};
/** This VU's customer (VUs take the customers in turn), signed in again a minute before the token expires. */
export function session(data) {
  const index = (exec.vu.idInTest - 1) % data.sessions.length;
  const own = refreshed[index] || data.sessions[index];
  if (own.expiresAt - Date.now() > 60000) return own;
  const row = credentials.find((c) => c.username === own.username);
  const fresh = signIn({ username: row.username, password: row.password });
  fresh.account_id = own.account_id;
  refreshed[index] = fresh;
  return fresh;
}

export function randomSymbol() {
  return SYMBOLS[Math.floor(Math.random() * SYMBOLS.length)];
}

/** GET /market/quotes, GET /accounts and GET /accounts/{id}: what a customer looks at. */
export function browse(current) {
  const quotes = request('GET', '/market/quotes', null, null, 'browse', 'GET /market/quotes');
  check(quotes, { 'quotes 200': (r) => r.status === 200 });
  const mine = request('GET', '/accounts', null, current.token, 'browse', 'GET /accounts');
  check(mine, { 'accounts 200': (r) => r.status === 200 });
  const holdings = request(
    'GET',
    `/accounts/${current.account_id}`,
    null,
    current.token,
    'browse',
    'GET /accounts/:id',
  );
  check(holdings, { 'holdings 200': (r) => r.status === 200 });
  const orders = request(
    'GET',
    `/orders?account_id=${current.account_id}&limit=10`,
    null,
    current.token,
    'browse',
    'GET /orders',
  );
  check(orders, { 'orders 200': (r) => r.status === 200 });
}

/**
 * POST /shares/{side} with an Idempotency-Key; answers the order id, or null when it was not
 * accepted (the check and http_req_failed count that).
 */
export function placeOrder(current, side, symbol) {
  const response = request(
    'POST',
    `/shares/${side}`,
    { account_id: current.account_id, symbol: symbol || randomSymbol(), quantity: QUANTITY },
    current.token,
    'order',
    `POST /shares/${side}`,
    { 'idempotency-key': `${trace}-${hex(8)}` },
  );
  if (!check(response, { 'order accepted (202)': (r) => r.status === 202 })) return null;
  ordersAccepted.add(1);
  return response.json('order_id');
}

/**
 * Follows an order with GET /orders/{id} until it is executed, failed, canceled or expired, or
 * TERMINAL_DEADLINE_MS has passed; records orders_terminal, orders_executed and order_completion.
 */
export function awaitTerminal(current, orderId) {
  const accepted = Date.now();
  let delay = 0.05;
  for (;;) {
    sleep(delay);
    const response = request('GET', `/orders/${orderId}`, null, current.token, 'poll', 'GET /orders/:id');
    const status = response.status === 200 ? response.json('status') : null;
    if (TERMINAL.indexOf(status) >= 0) {
      ordersTerminal.add(true);
      ordersExecuted.add(status === 'executed');
      orderCompletion.add(Date.now() - accepted);
      return status;
    }
    if (Date.now() - accepted > TERMINAL_DEADLINE_MS) {
      ordersTerminal.add(false);
      console.warn(`order ${orderId} still ${status} after ${TERMINAL_DEADLINE_MS} ms, trace ${trace}`);
      return status;
    }
    delay = Math.min(delay * 2, 0.5);
  }
}

/**
 * One order: place it, and follow a share of them to their end (`track`, 1 = all; TRACK overrides
 * it). Following one costs a few GETs and keeps its VU busy until the order ends.
 */
export function trade(data, side, track) {
  beginIteration();
  const share = __ENV.TRACK ? Number(__ENV.TRACK) : track === undefined ? 1 : track;
  const current = session(data);
  const orderId = placeOrder(current, side);
  if (orderId && Math.random() < share) awaitTerminal(current, orderId);
}
