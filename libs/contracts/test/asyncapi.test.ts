import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { ASYNCAPI_FILE, render } from '../scripts/asyncapi-file.ts';
import { asyncApiDocument } from '../src/asyncapi.ts';
import { allEvents, handlerQueue, liveQueue, subscriptions } from '../src/index.ts';

const generated = asyncApiDocument('0.1.0');
const committed = readFileSync(ASYNCAPI_FILE, 'utf8');

describe('docs/asyncapi.json', () => {
  it('is what the contracts make (regenerate: pnpm --filter @simplebank/contracts asyncapi)', () => {
    expect(committed).toBe(render(generated));
  });

  it('is a valid AsyncAPI 3 document, without errors or warnings', async () => {
    const { document, diagnostics } = await new Parser().parse(committed);
    // severity 0 = error, 1 = warning
    expect(
      diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.path.join('.')}: ${d.message}`),
    ).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
  });

  it('describes every event on its exchange, with its producer and every consumer queue', async () => {
    const { document } = await new Parser().parse(committed);
    if (!document) throw new Error('no document');
    for (const event of allEvents) {
      const channel = document.channels().get(`${event.exchange}/${event.routingKey}`);
      expect(channel?.address(), event.name).toBe(event.routingKey);
      const publish = document.operations().get(`${event.source}.publish${event.name}`);
      expect(publish?.action(), event.name).toBe('send');
    }
    for (const { event, service, handler } of subscriptions) {
      const queue =
        event.delivery === 'live'
          ? liveQueue(event, service, handler, '{instance}')
          : handlerQueue(event, service, handler);
      expect(document.channels().get(queue)?.address()).toBe(queue);
      const receive = document.operations().get(`${service}.${handler}`);
      expect(receive?.action()).toBe('receive');
      expect(
        receive
          ?.messages()
          .all()
          .map((m) => m.name()),
      ).toEqual([event.name]);
    }
  });
});
