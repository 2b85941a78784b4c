import { randomUUID } from 'node:crypto';
import { waitFor } from '@simplebank/chassis/testing';
import type { Account, Order, OrderStatus } from '@simplebank/contracts';
import { inject } from 'vitest';

export const url = {
  gateway: inject('url:gateway'),
  accounts: inject('url:account-transactions'),
  fees: inject('url:fees'),
  market: inject('url:market'),
  exchange: inject('url:stock-exchange'),
};

export interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** One HTTP call; `token` goes in `Authorization: Bearer`. */
export async function call<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  { token, headers = {} }: { token?: string | undefined; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...headers,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: (text ? JSON.parse(text) : undefined) as T,
    headers: response.headers,
  };
}

/** A customer's bearer token from the gateway (POST /auth/token). */
export async function signIn(username: string, password: string): Promise<string> {
  const { status, body } = await call<{ access_token: string }>(url.gateway, 'POST', '/auth/token', {
    username,
    password,
  });
  if (status !== 200) throw new Error(`POST /auth/token for ${username} answered ${status}`);
  return body.access_token;
}

/** Each account's owner's token, and each order's (the helpers below send them). */
const tokens = new Map<string, string>();

/** The token of the customer who owns `accountId` (an account made by `newAccount`). */
export function tokenOf(accountId: string): string {
  const token = tokens.get(accountId);
  if (token === undefined) throw new Error(`no customer signed in for ${accountId}`);
  return token;
}

/** A customer of the test's own (username = the account id) with one funded account. */
export async function newCustomer(cash: string, positions: { symbol: string; quantity: number }[] = []) {
  const accountId = `e2e-${randomUUID().slice(0, 8)}`;
  const password = `pw-${randomUUID()}`;
  const created = await call(url.accounts, 'POST', '/accounts', {
    account_id: accountId,
    owner: accountId,
    password,
    cash,
    positions,
  });
  if (created.status !== 201)
    throw new Error(`could not create ${accountId}: ${JSON.stringify(created.body)}`);
  return { accountId, username: accountId, password };
}

/**
 * A funded account of the test's own, so tests never share balances, owned by a customer of its
 * own (username = the account id) created with it, and signed in at the gateway.
 */
export async function newAccount(cash: string, positions: { symbol: string; quantity: number }[] = []) {
  const { accountId, password } = await newCustomer(cash, positions);
  tokens.set(accountId, await signIn(accountId, password));
  return accountId;
}

export async function account(accountId: string): Promise<Account> {
  const { status, body } = await call<Account>(url.gateway, 'GET', `/accounts/${accountId}`, undefined, {
    token: tokenOf(accountId),
  });
  if (status !== 200) throw new Error(`GET /accounts/${accountId} answered ${status}`);
  return body;
}

/**
 * The account once nothing is held any more. Each service applies an order's outcome from its own
 * queue, so orders may say `executed` a moment before account-transactions has settled.
 */
export async function accountWithoutHolds(accountId: string): Promise<Account> {
  return waitFor(`account ${accountId} to hold nothing`, async () => {
    const current = await account(accountId);
    const held = current.cash.reserved !== '0.00' || current.positions.some((p) => p.reserved !== 0);
    return held ? undefined : current;
  });
}

export const position = (a: Account, symbol: string) =>
  a.positions.find((p) => p.symbol === symbol) ?? { symbol, quantity: 0, reserved: 0, current_value: null };

export async function placeOrder(
  side: 'sell' | 'buy',
  accountId: string,
  symbol: string,
  quantity: number,
  headers: Record<string, string> = {},
) {
  const token = tokenOf(accountId);
  const { status, body } = await call<{ order_id: string; status: string }>(
    url.gateway,
    'POST',
    `/shares/${side}`,
    { account_id: accountId, symbol, quantity },
    { token, headers },
  );
  if (status !== 202) throw new Error(`POST /shares/${side} answered ${status}: ${JSON.stringify(body)}`);
  tokens.set(body.order_id, token);
  return body.order_id;
}

const TERMINAL: OrderStatus[] = ['executed', 'failed', 'canceled', 'expired'];

/** The order, as its owner sees it (an order placed with `placeOrder`). */
export async function order(orderId: string): Promise<Order> {
  const { status, body } = await call<Order>(url.gateway, 'GET', `/orders/${orderId}`, undefined, {
    token: tokenOf(orderId),
  });
  if (status !== 200) throw new Error(`GET /orders/${orderId} answered ${status}`);
  return body;
}

/** Waits until the order reaches a terminal status and returns it. */
export async function settled(orderId: string, timeoutMs = 20_000): Promise<Order> {
  return waitFor(
    `order ${orderId} to finish`,
    async () => {
      const current = await order(orderId);
      return TERMINAL.includes(current.status) ? current : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

export async function setFaults(faults: Record<string, number>) {
  const { status } = await call(url.exchange, 'PUT', '/admin/faults', faults);
  if (status !== 200) throw new Error(`PUT /admin/faults answered ${status}`);
}

export const noFaults = {
  latency_ms: 0,
  error_rate: 0,
  reject_rate: 0,
  fill_delay_ms: 100,
  order_ttl_ms: 30_000,
};

export async function feeCharge(orderId: string) {
  return (await call<{ status: string; fee: string }>(url.fees, 'GET', `/fees/charges/${orderId}`)).body;
}

/** Decimal string → cents, for exact arithmetic in assertions. */
export const cents = (decimal: string | null): number => {
  if (decimal === null) throw new Error('no amount');
  const [whole = '0', fraction = ''] = decimal.replace('-', '').split('.');
  const value = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  return decimal.startsWith('-') ? -value : value;
};

/**
 * Waits until market has heard of the customer's cancel of `orderId`: from then on it never sends
 * the order again, only withdraws it, so an exchange that comes back cannot fill it first.
 */
export async function cancelReachedMarket(orderId: string): Promise<void> {
  await waitFor(`market to hear of the cancel of ${orderId}`, async () => {
    const { body } = await call<{ status: string; cancel_requested: boolean }>(
      url.market,
      'GET',
      `/market/placements/${orderId}`,
    );
    return body.cancel_requested || body.status === 'canceled';
  });
}
