import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createApp,
  createLogger,
  createMetrics,
  HttpClient,
  type HttpClientOptions,
  type Metrics,
  requestDeadline,
  retryDelay,
  UpstreamUnavailable,
} from '@simplebank/chassis';
import { waitFor } from '@simplebank/chassis/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

// A target whose behaviour each test sets: every request is recorded, then answered by `behave`.
interface Hit {
  method: string;
  url: string;
  at: number;
  /** The `x-budget-ms` the request came with. */
  budget: number | undefined;
  body: string;
}
let hits: Hit[] = [];
let behave: (request: IncomingMessage, response: ServerResponse) => void;
let target: Server;
let baseUrl: string;
const open: ServerResponse[] = [];

const answer = (status: number, body?: unknown) => (_request: IncomingMessage, response: ServerResponse) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(body === undefined ? '' : JSON.stringify(body));
};
const never = () => (_request: IncomingMessage, response: ServerResponse) => {
  open.push(response); // keeps the connection and says nothing: a hung target
};

beforeAll(async () => {
  target = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const header = request.headers['x-budget-ms'];
      hits.push({
        method: request.method ?? '',
        url: request.url ?? '',
        at: Date.now(),
        budget: header === undefined ? undefined : Number(header),
        body,
      });
      behave(request, response);
    });
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const response of open) response.destroy();
  target.closeAllConnections();
  await new Promise((resolve) => target.close(resolve));
});

beforeEach(() => {
  hits = [];
  behave = answer(200, { ok: true });
});

/** A client with its own metrics and a log whose lines the test can read. */
function client(options: Partial<HttpClientOptions> = {}) {
  const lines: { level: string; message: string; target?: string }[] = [];
  const log = createLogger('http-client-test', 'debug', {
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  const metrics = createMetrics('http-client-test');
  const http = new HttpClient(
    { log, metrics },
    { name: 'target', baseUrl, timeoutMs: 1000, backoff: { baseMs: 10, maxMs: 50 }, ...options },
  );
  const logged = (message: string) => lines.filter((l) => l.message === message);
  return { http, metrics, lines, logged };
}
const metricsText = (metrics: Metrics) => metrics.registry.metrics();

describe('chassis HTTP client', () => {
  it('returns 2xx and 4xx answers with their JSON body, and sends JSON', async () => {
    const { http } = client();
    behave = answer(201, { id: 'x-1' });
    expect(await http.post('/things?a=1', { name: 'thing' }, { query: { b: 2 } })).toMatchObject({
      status: 201,
      body: { id: 'x-1' },
    });
    expect(hits[0]).toMatchObject({ method: 'POST', url: '/things?a=1&b=2', body: '{"name":"thing"}' });

    behave = answer(422, { error: { code: 'order_rejected' } });
    const refused = await http.get('/things/1');
    expect(refused).toMatchObject({ status: 422, body: { error: { code: 'order_rejected' } } });
    expect(hits).toHaveLength(2); // a 4xx is an answer: not retried
  });

  it('gives up on a target that does not answer within the timeout', async () => {
    const { http, metrics } = client({ timeoutMs: 100, retries: 0 });
    behave = never();
    const started = Date.now();
    const error = await http.get('/slow').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamUnavailable);
    expect(error).toMatchObject({
      reason: 'timeout',
      target: 'target',
      message: 'target is unavailable: no answer within 100 ms',
    });
    expect(Date.now() - started).toBeLessThan(600);
    expect(await metricsText(metrics)).toMatch(
      /http_client_calls_total\{target="target",method="GET",outcome="timeout",service="http-client-test"\} 1/,
    );
  });

  it('reports a target that cannot be reached, and a 5xx, as unavailable', async () => {
    const nowhere = new HttpClient(
      { log: createLogger('t', 'silent'), metrics: createMetrics('t') },
      { name: 'nowhere', baseUrl: 'http://127.0.0.1:9', timeoutMs: 500, retries: 0 },
    );
    await expect(nowhere.get('/')).rejects.toMatchObject({ reason: 'network' });

    const { http } = client({ retries: 0 });
    behave = answer(503, { error: { code: 'exchange_unavailable' } });
    await expect(http.get('/x')).rejects.toMatchObject({
      reason: 'server_error',
      status: 503,
      message: expect.stringContaining('answered 503'),
    });
  });

  it('retries only idempotent calls: GET, PUT, DELETE, and a POST marked idempotent', async () => {
    // a breaker that never opens here: every one of these calls must reach the target
    const { http, metrics } = client({ retries: 2, breaker: { volumeThreshold: 1000 } });
    behave = answer(503);
    const attempts = async (call: () => Promise<unknown>) => {
      hits = [];
      await expect(call()).rejects.toBeInstanceOf(UpstreamUnavailable);
      return hits.length;
    };
    expect(await attempts(() => http.get('/x'))).toBe(3);
    expect(await attempts(() => http.put('/x', { a: 1 }))).toBe(3);
    expect(await attempts(() => http.delete('/x'))).toBe(3);
    expect(await attempts(() => http.post('/x', { a: 1 }))).toBe(1);
    expect(await attempts(() => http.post('/x', { key: 'k-1' }, { idempotent: true }))).toBe(3);
    expect(await attempts(() => http.get('/x', { retries: 0 }))).toBe(1);
    expect(await metricsText(metrics)).toMatch(
      /http_client_retries_total\{target="target",method="POST",service="http-client-test"\} 2/,
    );

    // a retry that succeeds is a success
    hits = [];
    let calls = 0;
    behave = (request, response) => answer(++calls < 2 ? 502 : 200, { ok: true })(request, response);
    expect((await http.get('/flaky')).status).toBe(200);
    expect(hits).toHaveLength(2);
  });

  it('backs off exponentially between attempts, with jitter', async () => {
    // half of each delay is fixed: 20, 40, 80 ms at the least with base 40, whatever the jitter
    const { http } = client({ retries: 3, backoff: { baseMs: 40, maxMs: 1000 }, random: () => 0 });
    behave = answer(500);
    await expect(http.get('/x')).rejects.toMatchObject({ reason: 'server_error' });
    expect(hits).toHaveLength(4);
    const gaps = hits.slice(1).map((hit, i) => hit.at - (hits[i] as Hit).at);
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(79);
    expect(gaps[2]).toBeGreaterThan(gaps[0] as number);

    const backoff = { baseMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(n, backoff, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(n, backoff, () => 0.999))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
  });

  it('opens the circuit after failures, fails fast while open, then half-opens and closes on success', async () => {
    const { http, metrics, logged } = client({
      retries: 0,
      breaker: { volumeThreshold: 4, errorThresholdPercentage: 50, resetTimeoutMs: 300 },
    });
    behave = answer(503);
    for (let i = 0; i < 4; i++)
      await expect(http.get('/x')).rejects.toMatchObject({ reason: 'server_error' });
    expect(http.state).toBe('open');
    expect(logged('circuit breaker opened')).toHaveLength(1);
    expect(logged('circuit breaker opened')[0]).toMatchObject({ level: 'warn', target: 'target' });
    expect(await metricsText(metrics)).toMatch(
      /circuit_breaker_state\{target="target",service="http-client-test"\} 2/,
    );

    // open: refused at once, without reaching the target, and never retried
    hits = [];
    const started = Date.now();
    await expect(http.get('/x', { retries: 3 })).rejects.toMatchObject({
      reason: 'circuit_open',
      message: 'target is unavailable: circuit open',
    });
    expect(Date.now() - started).toBeLessThan(50);
    expect(hits).toHaveLength(0);

    // after resetTimeout one trial goes through; it fails, so the circuit opens again
    await waitFor('the circuit to half-open', () => http.state === 'half_open');
    expect(await metricsText(metrics)).toMatch(
      /circuit_breaker_state\{target="target",service="http-client-test"\} 1/,
    );
    await expect(http.get('/x')).rejects.toMatchObject({ reason: 'server_error' });
    expect(http.state).toBe('open');
    expect(logged('circuit breaker opened')).toHaveLength(2);

    // the target is back: the next trial succeeds and closes the circuit
    behave = answer(200, { ok: true });
    await waitFor('the circuit to half-open again', () => http.state === 'half_open');
    expect((await http.get('/x')).status).toBe(200);
    expect(http.state).toBe('closed');
    expect(logged('circuit breaker half-open')).toHaveLength(2);
    expect(logged('circuit breaker closed')).toHaveLength(1);
    const text = await metricsText(metrics);
    expect(text).toMatch(/circuit_breaker_state\{target="target",service="http-client-test"\} 0/);
    expect(text).toMatch(/http_client_calls_total\{[^}]*outcome="circuit_open"[^}]*\} 1/);
    expect(text).toMatch(/http_client_calls_total\{[^}]*outcome="server_error"[^}]*\} 5/);
    expect(text).toMatch(/http_client_calls_total\{[^}]*outcome="ok"[^}]*\} 1/);
  });

  it('counts neither 4xx answers nor successes as failures', async () => {
    const { http } = client({ retries: 0, breaker: { volumeThreshold: 2, errorThresholdPercentage: 10 } });
    behave = answer(404, { error: { code: 'not_found' } });
    for (let i = 0; i < 10; i++) expect((await http.get('/missing')).status).toBe(404);
    expect(http.state).toBe('closed');
  });

  it('sends the time its deadline leaves, not the deadline, and never waits past it', async () => {
    const { http } = client({ timeoutMs: 2000, retries: 3 });
    behave = never();
    const deadline = Date.now() + 150;
    const started = Date.now();
    await expect(http.get('/slow', { deadline })).rejects.toMatchObject({ reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(400); // not 2000 ms, and no retry past the deadline
    expect(hits).toHaveLength(1);
    expect(hits[0]?.budget).toBeGreaterThan(0);
    expect(hits[0]?.budget).toBeLessThanOrEqual(150);

    // a deadline already passed: no call at all
    hits = [];
    await expect(http.get('/x', { deadline: Date.now() - 1 })).rejects.toMatchObject({
      reason: 'timeout',
      message: 'target is unavailable: the deadline passed before the call',
    });
    expect(hits).toHaveLength(0);
  });
});

describe('chassis HTTP server: the caller’s deadline', () => {
  const log = createLogger('deadline-test', 'silent');
  const app = createApp(log, createMetrics('deadline-test'));
  let ran = 0;
  let seen: { deadline?: number; context?: number } = {};

  beforeAll(async () => {
    const downstream = new HttpClient(
      { log, metrics: createMetrics('deadline-test-client') },
      { name: 'target', baseUrl, timeoutMs: 2000, retries: 0 },
    );
    app.get('/work', async (request) => {
      ran++;
      seen = { deadline: request.deadline, context: requestDeadline() };
      // the call downstream gets what is left of the caller's time, not its own 2 s
      const started = Date.now();
      const error = await downstream.get('/slow', { deadline: request.deadline }).catch((e: unknown) => e);
      return { waited_ms: Date.now() - started, reason: (error as UpstreamUnavailable).reason };
    });
    await app.ready();
  });
  afterAll(() => app.close());

  it('answers 504 deadline_exceeded at once, without running the route, when no budget is left', async () => {
    ran = 0;
    const response = await app.inject({ url: '/work', headers: { 'x-budget-ms': '0' } });
    expect(response.statusCode).toBe(504);
    expect(response.json()).toEqual({ error: { code: 'deadline_exceeded', message: expect.any(String) } });
    expect(ran).toBe(0);
  });

  it('gives the request its budget from its arrival, and a downstream call the time that is left', async () => {
    behave = never();
    hits = [];
    const before = Date.now();
    const response = await app.inject({ url: '/work', headers: { 'x-budget-ms': '300' } });
    const after = Date.now();
    expect(response.statusCode).toBe(200);
    expect(seen.context).toBe(seen.deadline);
    expect(seen.deadline).toBeGreaterThanOrEqual(before + 300);
    expect(seen.deadline).toBeLessThanOrEqual(after + 300);
    const { waited_ms, reason } = response.json();
    expect(reason).toBe('timeout');
    expect(waited_ms).toBeLessThan(600);
    expect(hits[0]?.budget).toBeGreaterThan(0);
    expect(hits[0]?.budget).toBeLessThanOrEqual(300);
  });

  it('compares no clocks: a point in time from the caller (its clock an hour off) means nothing', async () => {
    behave = answer(200, { ok: true });
    ran = 0;
    const skewed = String(Date.now() - 3_600_000);
    const response = await app.inject({ url: '/work', headers: { 'x-deadline': skewed } });
    expect(response.statusCode).toBe(200);
    expect(ran).toBe(1);
    expect(seen.deadline).toBeUndefined();
  });

  it('runs a request without a deadline as before', async () => {
    behave = answer(200, { ok: true });
    ran = 0;
    await app.inject({ url: '/work' });
    expect(ran).toBe(1);
    expect(seen).toEqual({ deadline: undefined, context: undefined });
  });
});
