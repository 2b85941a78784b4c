import {
  type BreakerOptions,
  HttpClient,
  type HttpResponse,
  type Logger,
  type Metrics,
  UpstreamUnavailable,
} from '@simplebank/chassis';
import { explain } from '@simplebank/contracts';
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Answer, ExchangeOrderState } from '../domain/placement-steps.ts';
import type { PlacementTerms } from '../domain/prerequisites.ts';

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
const ExchangeId = Type.String({ minLength: 1, maxLength: 100 });
// What the exchange says of one order (GET and DELETE /orders/{client_order_id})
const OrderStateSchema = Type.Union([
  Type.Object({ status: Type.Literal('open'), exchange_order_id: ExchangeId }),
  Type.Object({
    status: Type.Literal('filled'),
    exchange_order_id: ExchangeId,
    fill_price_cents: Type.Integer({ minimum: 0, maximum: MAX_PRICE_CENTS }),
  }),
  Type.Object({ status: Type.Literal('expired'), exchange_order_id: ExchangeId }),
  Type.Object({
    status: Type.Literal('withdrawn'),
    exchange_order_id: Type.Union([ExchangeId, Type.Null()]),
  }),
]);
const OrderState = Compile(OrderStateSchema);
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

/** The answer to a placement: accepted, rejected (final), or unavailable (it may have gone through). */
export type PlacementAnswer = Extract<Answer, { kind: 'accepted' | 'rejected' | 'unavailable' }>;

export interface ExchangeClientOptions {
  baseUrl: string;
  /** Every attempt gives up after this long. */
  timeoutMs: number;
  /** Attempts after the first: every call to the exchange is idempotent (see `place`). */
  retries: number;
  breaker: BreakerOptions;
}

/**
 * Market's client of the stock exchange, over the chassis HTTP client: every attempt has a
 * timeout, failed attempts are retried with back-off, and a circuit breaker (`exchange` in
 * /metrics) fails calls at once while the exchange keeps failing.
 */
export class ExchangeClient {
  private readonly http: HttpClient;

  constructor(owner: { log: Logger; metrics: Metrics }, options: ExchangeClientOptions) {
    this.http = new HttpClient(owner, { name: 'exchange', ...options });
  }

  /**
   * Places an order; `clientOrderId` makes a repeat return the order already placed, so the POST
   * is retried like a GET. An exchange that times out, fails (5xx), cannot be reached or whose
   * circuit is open is `unavailable`: the order may go through later. Only its refusal is final.
   */
  async place(clientOrderId: string, order: PlacementTerms): Promise<PlacementAnswer> {
    let response: HttpResponse;
    try {
      response = await this.http.post(
        '/orders',
        {
          client_order_id: clientOrderId,
          side: order.side,
          symbol: order.symbol,
          quantity: order.quantity,
          limit_price_cents: order.limitPriceCents,
        },
        { idempotent: true },
      );
    } catch (error) {
      if (error instanceof UpstreamUnavailable) {
        return { kind: 'unavailable', detail: `${error.reason}: ${error.detail}` };
      }
      throw error;
    }
    const { status, body } = response;
    const detail = `${status} ${JSON.stringify(body)}`;
    if (status >= 200 && status < 300 && Placed.Check(body)) {
      return { kind: 'accepted', exchangeOrderId: body.exchange_order_id };
    }
    // 408 and 429 say "not now", like a 5xx; any other 4xx is a refusal of this order
    if (status >= 400 && status < 500 && ![408, 429].includes(status)) return { kind: 'rejected', detail };
    return { kind: 'unavailable', detail };
  }

  /** What the exchange knows of an order: `unknown` when it never took one under this id. */
  async order(clientOrderId: string): Promise<Answer> {
    return this.ask('GET', clientOrderId);
  }

  /**
   * Withdraws an order: the answer is final (withdrawn, or filled or expired already), and an id
   * the exchange never saw is withdrawn too, so an attempt still on its way is refused when it lands.
   */
  async withdraw(clientOrderId: string): Promise<Answer> {
    return this.ask('DELETE', clientOrderId);
  }

  private async ask(method: 'GET' | 'DELETE', clientOrderId: string): Promise<Answer> {
    const path = `/orders/${encodeURIComponent(clientOrderId)}`;
    let response: HttpResponse;
    try {
      response = method === 'GET' ? await this.http.get(path) : await this.http.delete(path);
    } catch (error) {
      if (error instanceof UpstreamUnavailable) {
        return { kind: 'unavailable', detail: `${error.reason}: ${error.detail}` };
      }
      throw error;
    }
    const { status, body } = response;
    if (method === 'GET' && status === 404) return { kind: 'unknown' };
    if (status === 200 && OrderState.Check(body)) return { kind: 'known', order: stateOf(body) };
    // an answer market cannot read is no answer: the order stays in doubt
    return { kind: 'unavailable', detail: `${status} ${JSON.stringify(body)}` };
  }

  async quotes(): Promise<ExchangeQuote[]> {
    const body = await this.get('/quotes');
    if (!ExchangeQuotes.Check(body))
      throw new Error(`unexpected quotes from the exchange: ${JSON.stringify(body)}`);
    return body.quotes.map((q) => ({ symbol: q.symbol, priceCents: q.price_cents, at: new Date(q.at) }));
  }

  async executionsAfter(after: number, limit: number): Promise<ExecutionFeed> {
    const body = await this.get('/executions', { after, limit });
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

  /** A 2xx's body; anything else (its 4xx included) is an error for the poller to retry. */
  private async get(path: string, query?: Record<string, number>): Promise<unknown> {
    const response = await this.http.get(path, query ? { query } : {});
    if (response.status < 200 || response.status >= 300) {
      throw new Error(`the exchange answered ${response.status} to GET ${path}`);
    }
    return response.body;
  }
}

const stateOf = (body: Static<typeof OrderStateSchema>): ExchangeOrderState => {
  switch (body.status) {
    case 'filled':
      return {
        status: 'filled',
        exchangeOrderId: body.exchange_order_id,
        fillPriceCents: body.fill_price_cents,
      };
    case 'withdrawn':
      return { status: 'withdrawn', exchangeOrderId: body.exchange_order_id };
    default:
      return { status: body.status, exchangeOrderId: body.exchange_order_id };
  }
};
