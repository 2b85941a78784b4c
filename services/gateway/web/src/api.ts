import type { OrderSide } from '@simplebank/contracts';
// The gateway's API as the screen uses it (docs/openapi.json). Money stays a decimal string here.

export interface Position {
  symbol: string;
  quantity: number;
  reserved: number;
  current_value: string | null;
}
export interface Account {
  account_id: string;
  owner: string;
  cash: { available: string; reserved: string };
  positions: Position[];
}
export interface Quote {
  symbol: string;
  price: string;
  at: string;
  stale?: boolean;
}
export type Status = 'created' | 'placed' | 'executed' | 'failed' | 'canceled' | 'expired';
export interface Order {
  order_id: string;
  account_id: string;
  side: OrderSide;
  symbol: string;
  quantity: number;
  status: Status;
  limit_price: string;
  fee: string | null;
  fill_price: string | null;
  reason: string | null;
  created_at: string;
  updated_at: string;
}
export interface FeeEstimate {
  price: string;
  value: string;
  fee: string;
}
export interface OrderNews {
  order_id: string;
  account_id: string;
  status: Status;
  reason: string | null;
  at: string;
}

/** An error answer of the API (`{ error: { code, message } }`), or no answer at all (`network`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: string | null = null,
  ) {
    super(message);
  }
}

export class Api {
  token: string | null = null;

  async call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ body: T; traceId: string | null }> {
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers: {
          ...headers,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: body === undefined ? null : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'network', 'no answer');
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(
        response.status,
        error?.code ?? 'internal_error',
        error?.message ?? response.statusText,
        response.headers.get('retry-after'),
      );
    }
    return { body: parsed as T, traceId: response.headers.get('trace-id') };
  }

  async signIn(username: string, password: string): Promise<void> {
    const { body } = await this.call<{ access_token: string }>('POST', '/auth/token', { username, password });
    this.token = body.access_token;
  }

  accounts = async () => (await this.call<{ accounts: Account[] }>('GET', '/accounts')).body.accounts;
  account = async (id: string) =>
    (await this.call<Account>('GET', `/accounts/${encodeURIComponent(id)}`)).body;
  orders = async (accountId: string) =>
    (
      await this.call<{ orders: Order[] }>(
        'GET',
        `/orders?account_id=${encodeURIComponent(accountId)}&limit=20`,
      )
    ).body.orders;
  order = async (id: string) => (await this.call<Order>('GET', `/orders/${encodeURIComponent(id)}`)).body;
  quotes = async () => (await this.call<{ quotes: Quote[] }>('GET', '/market/quotes')).body.quotes;
  fee = async (side: string, symbol: string, quantity: number) =>
    (
      await this.call<FeeEstimate>(
        'GET',
        `/fees/estimate?side=${side}&symbol=${encodeURIComponent(symbol)}&quantity=${quantity}`,
      )
    ).body;
  place = (side: string, accountId: string, symbol: string, quantity: number, key: string) =>
    this.call<{ order_id: string; status: string }>(
      'POST',
      `/shares/${side}`,
      { account_id: accountId, symbol, quantity },
      { 'idempotency-key': key },
    );
  cancel = (orderId: string) => this.call<unknown>('DELETE', `/orders/${encodeURIComponent(orderId)}`);
  settings = async () => (await this.call<{ jaeger_ui_url: string }>('GET', '/screen/settings')).body;
}
