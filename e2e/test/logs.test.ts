import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@simplebank/chassis/testing';
import { SERVICES } from '@simplebank/stack';
import { describe, expect, it } from 'vitest';
import { newAccount, placeOrder, settled } from './system.ts';

/**
 * Acceptance 4: every line every service writes (stdout and stderr, as global-setup copies them to
 * services.log, `<service> <line>`) is one logstash-style JSON object (docs/architecture.md §4).
 */
const servicesLog = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results', 'services.log');
const NAMES: string[] = SERVICES.map((s) => s.name);
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
/** The chassis' lines that are always written inside the span of a request, message or RPC call. */
const IN_SPAN = ['request handled', 'message handled', 'RPC call handled'];

interface Line {
  service: string;
  number: number;
  text: string;
}

/** The complete lines of services.log (a line being written at the end is left out). */
function readLines(): Line[] {
  const text = readFileSync(servicesLog, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .slice(0, -1)
    .map((line, index) => {
      const space = line.indexOf(' ');
      return { service: line.slice(0, space), number: index + 1, text: line.slice(space + 1) };
    });
}

/** What is wrong with one line, or [] when it is a proper log entry of `service`. */
function problemsOf(service: string, entry: unknown): string[] {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return ['not a JSON object'];
  const e = entry as Record<string, unknown>;
  const problems: string[] = [];
  const timestamp = e['@timestamp'];
  if (
    typeof timestamp !== 'string' ||
    !TIMESTAMP.test(timestamp) ||
    new Date(timestamp).toISOString() !== timestamp
  )
    problems.push(`@timestamp ${JSON.stringify(timestamp)} is not UTC ISO 8601 with milliseconds`);
  if (e['@version'] !== '1') problems.push(`@version ${JSON.stringify(e['@version'])}`);
  if (!LEVELS.includes(e.level as string)) problems.push(`level ${JSON.stringify(e.level)}`);
  if (typeof e.message !== 'string' || e.message === '') problems.push('no message');
  if (e.service !== service) problems.push(`service ${JSON.stringify(e.service)}, written by ${service}`);
  if (typeof e.host !== 'string' || e.host === '') problems.push('no host');
  if (IN_SPAN.includes(e.message as string) && e.trace_id === undefined)
    problems.push(`"${e.message}" is written inside a span but has no trace_id`);
  if (e.trace_id !== undefined && !/^[0-9a-f]{32}$/.test(String(e.trace_id)))
    problems.push(`trace_id ${JSON.stringify(e.trace_id)}`);
  if ((e.trace_id === undefined) !== (e.span_id === undefined)) problems.push('trace_id without span_id');
  if (e.span_id !== undefined && !/^[0-9a-f]{16}$/.test(String(e.span_id)))
    problems.push(`span_id ${JSON.stringify(e.span_id)}`);
  return problems;
}

describe('logs (acceptance 4)', () => {
  it("every line of every service's output is one JSON object with the required fields", async () => {
    // traffic of its own, in case this file runs first: a sell order, to its end
    const accountId = await newAccount('100.00', [{ symbol: 'ACME', quantity: 10 }]);
    const orderId = await placeOrder('sell', accountId, 'ACME', 1);
    await settled(orderId);

    // the order's own lines have arrived: orders logged its creation, with its id
    const lines = await waitFor(`orders' "order created" line for ${orderId}`, () => {
      const found = readLines();
      return found.some((l) => l.service === 'orders' && l.text.includes(orderId)) && found;
    });

    const counts = new Map<string, { lines: number; inSpan: number; withOrderId: number }>();
    const problems: string[] = [];
    const ofOrder: { service: string; entry: Record<string, unknown> }[] = [];
    for (const { service, number, text } of lines) {
      const where = `services.log:${number} (${service})`;
      if (!NAMES.includes(service)) {
        problems.push(`${where}: not a service's line: ${text.slice(0, 200)}`);
        continue;
      }
      const count = counts.get(service) ?? { lines: 0, inSpan: 0, withOrderId: 0 };
      counts.set(service, count);
      count.lines += 1;
      let entry: unknown;
      try {
        entry = JSON.parse(text);
      } catch {
        // a warning on stderr, a stack trace outside its JSON entry, a line split in two
        problems.push(`${where}: not JSON: ${text.slice(0, 200)}`);
        continue;
      }
      for (const problem of problemsOf(service, entry))
        problems.push(`${where}: ${problem}: ${text.slice(0, 300)}`);
      const e = entry as Record<string, unknown>;
      if (e.trace_id !== undefined) count.inSpan += 1;
      if (e.order_id !== undefined) count.withOrderId += 1;
      if (text.includes(orderId) || e.order_id === orderId) ofOrder.push({ service, entry: e });
    }

    console.info(
      `services.log: ${lines.length} lines\n${[...counts]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(
          ([s, c]) =>
            `  ${s.padEnd(22)} ${String(c.lines).padStart(6)} lines, ${String(c.inSpan).padStart(6)} in a span, ${String(c.withOrderId).padStart(5)} with order_id`,
        )
        .join('\n')}`,
    );

    expect(problems.slice(0, 30), `${problems.length} bad lines`).toEqual([]);
    // every service wrote, and each one's lines were checked
    for (const { name } of SERVICES) expect(counts.get(name)?.lines ?? 0, name).toBeGreaterThan(0);

    // lines about the order: each one that mentions it names it in `order_id`, and the saga's
    // handler logs (orders' "order created", the gateway's "order accepted", …) carry it
    expect(ofOrder.length).toBeGreaterThan(0);
    for (const { service, entry } of ofOrder)
      expect(entry.order_id, `${service}: ${JSON.stringify(entry)}`).toBe(orderId);
    const servicesNamingIt = new Set(ofOrder.map((l) => l.service));
    for (const service of ['gateway', 'orders', 'market']) expect([...servicesNamingIt]).toContain(service);
    // and they were written inside the order's trace
    expect(ofOrder.filter((l) => l.entry.trace_id !== undefined).length).toBeGreaterThan(0);

    // no service names the customer at info level or above: the e2e customer's username is the
    // account id, so neither appears there (debug lines, on in this run, may say who)
    const naming = lines.filter(({ text }) => {
      if (!text.includes(accountId)) return false;
      const level = (JSON.parse(text) as { level?: string }).level ?? 'info';
      return level !== 'debug' && level !== 'trace';
    });
    expect(naming.map(({ service, text }) => `${service} ${text.slice(0, 300)}`)).toEqual([]);
    expect(lines.some(({ text }) => text.includes(accountId))).toBe(true);
  });
});
