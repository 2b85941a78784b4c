import { createParser } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { call, newAccount, placeOrder, tokenOf, url } from './system.ts';

// GET /accounts/{id}/stream: server-sent events of the account's order status changes (from
// orders' OrderStatusChanged, through the gateway's own queue) and of the quote board.

interface Received {
  event: string;
  data: { status?: string; order_id?: string; quotes?: unknown[] };
}

/** Reads the stream until `done` says so; fails after `timeoutMs`. */
async function readStream(
  accountId: string,
  onOpen: () => Promise<unknown>,
  done: (events: Received[]) => boolean,
  timeoutMs = 20_000,
): Promise<Received[]> {
  const response = await fetch(`${url.gateway}/accounts/${accountId}/stream`, {
    headers: { authorization: `Bearer ${tokenOf(accountId)}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: Received[] = [];
  const reader = (response.body as ReadableStream<Uint8Array>)
    .pipeThrough(new TextDecoderStream())
    .getReader();
  // the gateway's first words, a comment, once the stream is subscribed to the account's news
  let said = false;
  const parser = createParser({
    onEvent: ({ event, data }) => events.push({ event: event ?? 'message', data: JSON.parse(data) }),
    onComment: (comment) => {
      if (comment.trim() === 'stream open') said = true;
    },
  });
  let opened = false;
  try {
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) throw new Error('the stream ended');
      parser.feed(value);
      if (said && !opened) {
        opened = true;
        await onOpen();
      }
      if (done(events)) return events;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

describe('the live stream of an account', () => {
  it("sends an order's every status as orders commits it, and the quotes", async () => {
    const accountId = await newAccount('100.00', [{ symbol: 'ACME', quantity: 10 }]);
    let orderId = '';
    const events = await readStream(
      accountId,
      async () => {
        orderId = await placeOrder('sell', accountId, 'ACME', 2);
      },
      (received) => received.some((e) => e.event === 'order' && e.data.status === 'executed'),
    );
    const statuses = events.filter((e) => e.event === 'order').map((e) => e.data);
    // placed may be overtaken by the fill (orders then records it without a change of status)
    expect([
      ['created', 'placed', 'executed'],
      ['created', 'executed'],
    ]).toContainEqual(statuses.map((s) => s.status));
    expect(statuses.every((s) => s.order_id === orderId)).toBe(true);
    expect(events.find((e) => e.event === 'quotes')?.data.quotes?.length).toBeGreaterThan(0);
  });

  it("is only for the account's owner", async () => {
    const mine = await newAccount('1.00');
    const theirs = await newAccount('1.00');
    const answer = await call(url.gateway, 'GET', `/accounts/${theirs}/stream`, undefined, {
      token: tokenOf(mine),
    });
    expect(answer).toMatchObject({ status: 404, body: { error: { code: 'unknown_account' } } });
    const anonymous = await call(url.gateway, 'GET', `/accounts/${mine}/stream`);
    expect(anonymous.status).toBe(401);
  });
});
