import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { type App, HttpError, type Logger } from '@simplebank/chassis';
import {
  AccountIdParams,
  ErrorCode,
  OrderStatus,
  type OrderStatusChanged,
  type PayloadOf,
  Quotes,
} from '@simplebank/contracts';
import { Type } from 'typebox';
import { requireCustomer, signedIn } from './auth.ts';
import type { Owners } from './owners.ts';
import type { QuoteBook } from './quotes.ts';

/** What the stream sends as `event: order`: an order's new status, as orders holds it. */
export const OrderNews = Type.Object({
  order_id: Type.String({ format: 'uuid' }),
  account_id: Type.String(),
  status: OrderStatus,
  /** Why it failed (insufficient_shares, …); null otherwise. */
  reason: Type.Union([Type.String(), Type.Null()]),
  at: Type.String({ format: 'date-time' }),
});

/**
 * The order news this gateway instance hears (OrderStatusChanged, on a queue of its own), passed
 * on to the streams of the accounts it concerns.
 */
export class OrderNewsHub {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(news: PayloadOf<typeof OrderStatusChanged>): void {
    this.emitter.emit(news.accountId, {
      order_id: news.orderId,
      account_id: news.accountId,
      status: news.status,
      reason: news.reason,
      at: news.at,
    });
  }

  /** Calls `listener` with each piece of news for `accountId`; returns the unsubscribe. */
  subscribe(accountId: string, listener: (news: unknown) => void): () => void {
    this.emitter.on(accountId, listener);
    return () => this.emitter.off(accountId, listener);
  }
}

const STREAM_DESCRIPTION = `Server-sent events (text/event-stream) for one of the customer's accounts, until
the client closes it:
- \`event: order\`, data an OrderNews: an order of the account changed status (created, placed,
  executed, failed with its reason, canceled, expired), as soon as orders committed the change;
- \`event: quotes\`, data a Quotes board: at once, then every LIVE_QUOTES_INTERVAL_MS;
- a \`: keep-alive\` comment every LIVE_HEARTBEAT_MS.
Send the bearer token in Authorization (read the stream with fetch; EventSource cannot send headers).
After a reconnect, read GET /orders for what changed meanwhile.`;

export function liveRoutes(
  app: App,
  deps: {
    owners: Owners;
    quotes: QuoteBook;
    news: OrderNewsHub;
    quotesIntervalMs: number;
    heartbeatMs: number;
    log: Logger;
  },
): void {
  // Open streams end when the gateway stops; the browser reconnects to another instance.
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const raw of open) raw.end();
  });

  app.get(
    '/accounts/:account_id/stream',
    {
      preParsing: requireCustomer,
      schema: {
        summary: 'Live order status and quotes of an account',
        description: STREAM_DESCRIPTION,
        params: AccountIdParams,
        response: {
          200: {
            description: 'The stream',
            content: {
              'text/event-stream': {
                schema: Type.Union([OrderNews, Quotes], {
                  description: 'The data of an `order` or a `quotes` event',
                }),
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { account_id } = request.params;
      if (!(await deps.owners.owns(signedIn(request), account_id)))
        throw new HttpError(404, ErrorCode.unknownAccount, `no account ${account_id}`);

      const raw: ServerResponse = reply.raw;
      // The headers set so far (trace id, rate limit) go out with the stream's own.
      for (const [name, value] of Object.entries(reply.getHeaders()))
        if (value !== undefined) raw.setHeader(name, value as string);
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        // no buffering in a proxy in front (nginx)
        'x-accel-buffering': 'no',
      });
      reply.hijack();
      open.add(raw);
      const send = (event: string, data: unknown) => {
        if (!raw.writableEnded) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const sendQuotes = () =>
        deps.quotes.board({ allowStale: true }).then(
          (board) => send('quotes', board),
          (error: unknown) => deps.log.debug({ error }, 'no quotes for the stream this time'),
        );

      const unsubscribe = deps.news.subscribe(account_id, (news) => send('order', news));
      const quotes = setInterval(sendQuotes, deps.quotesIntervalMs);
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), deps.heartbeatMs);
      raw.write(': stream open\n\n');
      await sendQuotes();
      request.raw.once('close', () => {
        unsubscribe();
        clearInterval(quotes);
        clearInterval(heartbeat);
        open.delete(raw);
        raw.end();
      });
    },
  );
}
