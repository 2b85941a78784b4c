import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@simplebank/chassis/testing';
import { SAGA_SERVICES } from '@simplebank/stack';
import { describe, expect, inject, it } from 'vitest';
import type { ReceivedSpan } from './global-setup.ts';
import { call, newAccount, tokenOf, url } from './system.ts';

const otlp = inject('url:otlp');
const servicesLog = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results', 'services.log');
const ALL = SAGA_SERVICES.map((s) => s.name).sort();
const PRODUCER = 4;
const CONSUMER = 5;

async function spansOf(traceId: string): Promise<ReceivedSpan[]> {
  const response = await fetch(`${otlp}/spans?trace_id=${traceId}`);
  return (await response.json()) as ReceivedSpan[];
}

/** Services whose log lines (in services.log, `<service> <json>`) carry `traceId`. */
function servicesLoggingIn(traceId: string): string[] {
  const services = new Set<string>();
  for (const line of readFileSync(servicesLog, 'utf8').split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0 || !line.includes(traceId)) continue;
    try {
      const entry = JSON.parse(line.slice(space + 1)) as { trace_id?: string };
      if (entry.trace_id === traceId) services.add(line.slice(0, space));
    } catch {
      // not a JSON line
    }
  }
  return [...services].sort();
}

/** Each CONSUMER span with the span it says is its parent (undefined when not received). */
const consumersWithParents = (spans: ReceivedSpan[]) =>
  spans
    .filter((s) => s.kind === CONSUMER)
    .map((consumer) => ({ consumer, parent: spans.find((s) => s.spanId === consumer.parentSpanId) }));

describe('distributed tracing (OpenTelemetry, OTLP)', () => {
  it('a sell order is one trace across every service, through RabbitMQ, and in their logs', async () => {
    const accountId = await newAccount('100.00', [{ symbol: 'ACME', quantity: 10 }]);
    const placed = await call<{ order_id: string }>(
      url.gateway,
      'POST',
      '/shares/sell',
      { account_id: accountId, symbol: 'ACME', quantity: 2 },
      { token: tokenOf(accountId) },
    );
    expect(placed.status).toBe(202);
    const traceId = placed.headers.get('trace-id') ?? '';
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toBe('0'.repeat(32));

    // spans from every service, and every consumer's parent (a producer) received too
    const spans = await waitFor(
      `spans of trace ${traceId} from ${ALL.join(', ')}`,
      async () => {
        const found = await spansOf(traceId);
        const services = [...new Set(found.map((s) => s.service))].sort();
        const linked = consumersWithParents(found);
        const complete =
          ALL.every((s) => services.includes(s)) &&
          linked.length > 0 &&
          linked.every(({ parent }) => parent !== undefined);
        return complete && found;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );

    // across RabbitMQ: each CONSUMER span is the child of the PRODUCER span that published it
    const linked = consumersWithParents(spans);
    for (const { consumer, parent } of linked) {
      expect(parent?.kind, `parent of ${consumer.service}'s ${consumer.name}`).toBe(PRODUCER);
      expect(parent?.attributes['messaging.message.id']).toBe(consumer.attributes['messaging.message.id']);
      expect(consumer.attributes['messaging.system']).toBe('rabbitmq');
      expect(consumer.attributes['messaging.operation.name']).toBe('process');
      expect(parent?.attributes['messaging.operation.name']).toBe('publish');
    }
    // the saga's events cross services: some consumers run in a service other than the producer's
    expect(linked.some(({ consumer, parent }) => parent?.service !== consumer.service)).toBe(true);
    // one trace, one root: the gateway's request
    const roots = spans.filter((s) => !s.parentSpanId);
    expect(roots.map((s) => s.service)).toEqual(['gateway']);

    // handler and route logs run inside the spans: every service logged in this trace
    await waitFor(`log lines of every service with trace_id ${traceId}`, () => {
      const services = servicesLoggingIn(traceId);
      return ALL.every((s) => services.includes(s)) && services;
    });
  });

  it('the gateway returns the trace id on every API response, errors too', async () => {
    const unauthorized = await call(url.gateway, 'GET', '/accounts/acc-alice');
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('trace-id')).toMatch(/^[0-9a-f]{32}$/);
    const missing = await call(url.gateway, 'GET', '/no-such-route');
    expect(missing.headers.get('trace-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(missing.headers.get('trace-id')).not.toBe(unauthorized.headers.get('trace-id'));
  });
});
