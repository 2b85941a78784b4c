import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { type App, HttpError, type Logger, type Metrics, prometheus } from '@simplebank/chassis';
import {
  AccountIdParams,
  ErrorCode,
  OrderStatus,
  type OrderStatusChanged,
  type PayloadOf,
  Quotes,
} from '@simplebank/contracts';
import { Type } from 'typebox';
import { requireCustomer, tokenOf } from '../edge/auth.ts';
import type { TokenVersions } from '../edge/revocation.ts';
import type { Owners } from '../upstream/owners.ts';
import type { QuoteBook } from '../upstream/quotes.ts';

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
the client closes it or its token ends:
- \`event: order\`, data an OrderNews: an order of the account changed status (created, placed,
  executed, failed with its reason, canceled, expired), as soon as orders committed the change;
- \`event: quotes\`, data a Quotes board: at once, then every LIVE_QUOTES_INTERVAL_MS;
- a \`: keep-alive\` comment every LIVE_HEARTBEAT_MS;
- \`event: end\`, data \`{ reason }\`, last: \`token_expired\` when the token expires, \`token_revoked\`
  after a sign-out or password change (within TOKEN_VERSION_FRESH_MS + LIVE_QUOTES_INTERVAL_MS);
  sign in again and reopen it.
A customer holds at most LIVE_MAX_STREAMS_PER_CUSTOMER streams per gateway instance; one more is
429 too_many_streams.
Send the bearer token in Authorization (read the stream with fetch; EventSource cannot send headers).
After a reconnect, read GET /orders for what changed meanwhile.`;

export function liveRoutes(
  app: App,
  deps: {
    owners: Owners;
    quotes: QuoteBook;
    news: OrderNewsHub;
    versions: TokenVersions;
    quotesIntervalMs: number;
    heartbeatMs: number;
    maxStreamsPerCustomer: number;
    registry: Metrics['registry'];
    log: Logger;
  },
): void {
  // Every stream from its first line to its teardown, being set up included, and per customer.
  const streams = new Set<ServerResponse>();
  const perCustomer = new Map<string, number>();
  new prometheus.Gauge({
    name: 'gateway_live_streams',
    help: 'Live streams (server-sent events) open on this gateway instance, those being set up included',
    registers: [deps.registry],
    collect() {
      this.set(streams.size);
    },
  });
  // Open streams end when the gateway stops; the browser reconnects to another instance.
  app.addHook('preClose', async () => {
    for (const raw of streams) if (raw.headersSent) raw.end();
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
      const { customer, version, expiresAt } = tokenOf(request);
      const held = perCustomer.get(customer) ?? 0;
      if (held >= deps.maxStreamsPerCustomer) {
        throw new HttpError(
          429,
          ErrorCode.tooManyStreams,
          `at most ${deps.maxStreamsPerCustomer} live streams per customer; close one first`,
        );
      }

      // Counted, and undone on close, before the first await: a client that leaves while the
      // stream is being set up leaves no timer, subscription or entry behind.
      const raw: ServerResponse = reply.raw;
      const teardown: (() => void)[] = [];
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        for (const undo of teardown) undo();
        streams.delete(raw);
        const left = (perCustomer.get(customer) ?? 1) - 1;
        if (left > 0) perCustomer.set(customer, left);
        else perCustomer.delete(customer);
      };
      perCustomer.set(customer, held + 1);
      streams.add(raw);
      raw.once('close', release);

      let owns: boolean;
      try {
        owns = await deps.owners.owns(customer, account_id);
      } catch (error) {
        release();
        throw error;
      }
      if (!owns) {
        release();
        throw new HttpError(404, ErrorCode.unknownAccount, `no account ${account_id}`);
      }
      if (released || request.raw.destroyed || raw.destroyed) {
        // the client left meanwhile: nothing to send
        release();
        reply.hijack();
        return;
      }

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
      const send = (event: string, data: unknown) => {
        if (!raw.writableEnded) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const end = (reason: 'token_expired' | 'token_revoked') => {
        send('end', { reason });
        release();
        raw.end();
      };
      const sendQuotes = () =>
        deps.quotes.board({ allowStale: true }).then(
          (board) => send('quotes', board),
          (error: unknown) => deps.log.debug({ error }, 'no quotes for the stream this time'),
        );
      // A sign-out or a new password ends the stream at the next tick; an unanswerable check
      // leaves it to the token's expiry.
      const tick = async () => {
        if (!(await deps.versions.valid(customer, version).catch(() => true))) return end('token_revoked');
        await sendQuotes();
      };

      teardown.push(deps.news.subscribe(account_id, (news) => send('order', news)));
      const quotes = setInterval(tick, deps.quotesIntervalMs);
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), deps.heartbeatMs);
      const expiry = setTimeout(() => end('token_expired'), Math.max(0, expiresAt - Date.now()));
      teardown.push(
        () => clearInterval(quotes),
        () => clearInterval(heartbeat),
        () => clearTimeout(expiry),
      );
      raw.write(': stream open\n\n');
      await sendQuotes();
    },
  );
}
