import { explain } from '@simplebank/contracts';
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { OrderTerms } from './prerequisites.ts';

// The stock exchange's HTTP API (docs/saga.md), as far as market uses it. Answers are checked:
// the exchange is outside the system, and a bad answer should fail here, not in the database.
const Placed = Compile(Type.Object({ exchange_order_id: Type.String({ minLength: 1, maxLength: 100 }) }));
const ExchangeQuotes = Compile(
  Type.Object({
    quotes: Type.Array(
      Type.Object({ symbol: Type.String(), price_cents: Type.Integer({ minimum: 0 }), at: Type.String() }),
    ),
  }),
);
/** The contracts' bound on a price per share (TradeExecuted's `fillPriceCents`). */
const MAX_PRICE_CENTS = 1_000_000_000;
const ExecutionOf = {
  seq: Type.Integer({ minimum: 1 }),
  client_order_id: Type.String({ minLength: 1, maxLength: 100 }),
  exchange_order_id: Type.String({ minLength: 1, maxLength: 100 }),
};
const ExecutionSchema = Type.Union([
  Type.Object({
    ...ExecutionOf,
    kind: Type.Literal('filled'),
    price_cents: Type.Integer({ minimum: 0, maximum: MAX_PRICE_CENTS }),
  }),
  Type.Object({ ...ExecutionOf, kind: Type.Literal('expired') }),
]);
const ValidExecution = Compile(ExecutionSchema);
// The page itself, checked as a whole; each entry only needs its seq here, so an entry that is not
// a valid execution can be passed over on its own instead of blocking every later one.
const FeedPage = Compile(
  Type.Object({
    epoch: Type.String({ minLength: 1 }),
    executions: Type.Array(Type.Object({ seq: Type.Integer({ minimum: 1 }) })),
  }),
);
export type Execution = Static<typeof ExecutionSchema>;
/** An entry of the feed that is not a valid execution: it can never be applied. */
export interface InvalidExecution {
  kind: 'invalid';
  seq: number;
  problem: string;
  entry: unknown;
}
export interface ExecutionFeed {
  epoch: string;
  executions: (Execution | InvalidExecution)[];
}
export interface ExchangeQuote {
  symbol: string;
  priceCents: number;
  at: Date;
}

export type PlacementAnswer =
  | { kind: 'accepted'; exchangeOrderId: string }
  /** The exchange refused the order: trying again would not change its mind. */
  | { kind: 'rejected'; detail: string }
  /** Down, overloaded or too slow: the order may go through on a later attempt. */
  | { kind: 'unavailable'; detail: string };

/** Market's client of the stock exchange; every request gives up after `timeoutMs`. */
export class ExchangeClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  /** Places an order; `clientOrderId` makes a retry return the order already placed. */
  async place(clientOrderId: string, order: OrderTerms): Promise<PlacementAnswer> {
    let response: Response;
    try {
      response = await this.request('/orders', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_order_id: clientOrderId,
          side: order.side,
          symbol: order.symbol,
          quantity: order.quantity,
          limit_price_cents: order.limitPriceCents,
        }),
      });
    } catch (error) {
      return { kind: 'unavailable', detail: describe(error) };
    }
    const body = await response.json().catch(() => undefined);
    const detail = `${response.status} ${JSON.stringify(body)}`;
    if (response.ok && Placed.Check(body))
      return { kind: 'accepted', exchangeOrderId: body.exchange_order_id };
    // 408 and 429 say "not now", like a 5xx; any other 4xx is a refusal of this order
    if (response.status >= 400 && response.status < 500 && ![408, 429].includes(response.status)) {
      return { kind: 'rejected', detail };
    }
    return { kind: 'unavailable', detail };
  }

  async quotes(): Promise<ExchangeQuote[]> {
    const body = await this.get('/quotes');
    if (!ExchangeQuotes.Check(body))
      throw new Error(`unexpected quotes from the exchange: ${JSON.stringify(body)}`);
    return body.quotes.map((q) => ({ symbol: q.symbol, priceCents: q.price_cents, at: new Date(q.at) }));
  }

  async executionsAfter(after: number, limit: number): Promise<ExecutionFeed> {
    const body = await this.get(`/executions?after=${after}&limit=${limit}`);
    if (!FeedPage.Check(body))
      throw new Error(`unexpected executions from the exchange: ${JSON.stringify(body)}`);
    return {
      epoch: body.epoch,
      executions: body.executions.map((entry) => {
        const problem = explain(ValidExecution, entry);
        return problem === undefined
          ? (entry as Execution)
          : { kind: 'invalid', seq: entry.seq, problem, entry };
      }),
    };
  }

  private async get(path: string): Promise<unknown> {
    const response = await this.request(path);
    if (!response.ok) throw new Error(`the exchange answered ${response.status} to GET ${path}`);
    return response.json();
  }

  private request(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(new URL(path, this.baseUrl), { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
  }
}

const describe = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  return [(error as Error).name, (error as Error).message, cause].filter(Boolean).join(': ');
};
