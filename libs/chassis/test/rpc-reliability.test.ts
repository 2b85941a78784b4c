import { randomUUID } from 'node:crypto';
import {
  Broker,
  brokerUser,
  createLogger,
  createMetrics,
  RpcError,
  type RunningService,
  startService,
  UpstreamUnavailable,
} from '@simplebank/chassis';
import { publishRaw, testEnvironment, waitFor } from '@simplebank/chassis/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import counter, { slowOnceCallsFor } from './fixtures/counter-service.ts';

// The fixture service serves rpc-chassis-fixture; each test calls it through a broker of its own,
// with its own breaker, metrics and log, as the gateway calls orders.
let env: Record<string, string>;
let db: pg.Pool;
let server: RunningService;
const clients: Broker[] = [];

beforeAll(async () => {
  env = await testEnvironment('chassis-rpc');
  db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
  // requests handled side by side, as the retries below expect of a server (one batch at a time
  // would make each attempt wait behind the slow one)
  server = await startService(counter, { env: { ...env, HANDLER_BATCHES: '4' }, listen: false });
});

afterAll(async () => {
  for (const client of clients) await client.close();
  await server?.stop();
  await db?.end();
});

const effectsFor = async (orderId: string) =>
  (await db.query('SELECT count(*)::int AS n FROM effects WHERE order_id = $1', [orderId])).rows[0]
    .n as number;

type Line = { level: string; message: string; target?: string; [key: string]: unknown };

/** A caller of the fixture's RPC methods, with a log whose lines the test reads. */
function caller(rpc: ConstructorParameters<typeof Broker>[4]['rpc'] = {}, amqpUrl = env.AMQP_URL as string) {
  const lines: Line[] = [];
  const log = createLogger('rpc-caller', 'debug', {
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  const metrics = createMetrics('rpc-caller');
  const broker = new Broker(amqpUrl, 'rpc-caller', log, metrics, {
    publishes: [],
    retry: { attempts: 1, delaysMs: [] },
    rpc: { backoff: { baseMs: 10, maxMs: 50 }, ...rpc },
  });
  clients.push(broker);
  const logged = (message: string) => lines.filter((l) => l.message === message);
  const metricsText = () => metrics.registry.metrics();
  return { broker, lines, logged, metricsText };
}

/** The reason the call got no reply: the `UpstreamUnavailable` behind its `RpcError`. */
async function unavailability(call: Promise<unknown>): Promise<UpstreamUnavailable> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RpcError);
  expect(error).toMatchObject({ code: 'service_unavailable' });
  const cause = (error as Error).cause;
  expect(cause).toBeInstanceOf(UpstreamUnavailable);
  return cause as UpstreamUnavailable;
}

describe('RPC calls: circuit breaker', () => {
  it('opens after timeouts, fails fast while open, then half-opens and closes on success', async () => {
    const { broker, logged, metricsText } = caller({
      breaker: { volumeThreshold: 4, errorThresholdPercentage: 50, resetTimeoutMs: 300 },
    });
    const slow = () => broker.call('chassis-fixture', 'slowCount', { orderId: randomUUID(), ms: 400 }, 100);
    for (let i = 0; i < 4; i++) expect((await unavailability(slow())).reason).toBe('timeout');
    expect(broker.rpcCircuit('chassis-fixture')).toBe('open');
    expect(logged('circuit breaker opened')).toEqual([
      expect.objectContaining({ level: 'warn', target: 'rpc-chassis-fixture', failures: 4, calls: 4 }),
    ]);
    expect(await metricsText()).toMatch(
      /circuit_breaker_state\{target="rpc-chassis-fixture",service="rpc-caller"\} 2/,
    );

    // open: refused at once, without a request to the server
    const started = Date.now();
    const refused = await unavailability(broker.call('chassis-fixture', 'echo', { n: 1 }, 5000));
    expect(refused).toMatchObject({
      reason: 'circuit_open',
      message: 'rpc-chassis-fixture is unavailable: circuit open',
    });
    expect(Date.now() - started).toBeLessThan(50);

    // after resetTimeout one trial goes through; it times out, so the circuit opens again
    await waitFor('the circuit to half-open', () => broker.rpcCircuit('chassis-fixture') === 'half_open');
    expect(logged('circuit breaker half-open')).toHaveLength(1);
    expect(await metricsText()).toMatch(
      /circuit_breaker_state\{target="rpc-chassis-fixture",service="rpc-caller"\} 1/,
    );
    expect((await unavailability(slow())).reason).toBe('timeout');
    expect(broker.rpcCircuit('chassis-fixture')).toBe('open');
    expect(logged('circuit breaker opened')).toHaveLength(2);

    // the server answers in time again: the next trial closes the circuit
    await waitFor(
      'the circuit to half-open again',
      () => broker.rpcCircuit('chassis-fixture') === 'half_open',
    );
    expect(await broker.call('chassis-fixture', 'echo', { n: 7 }, 5000)).toEqual({ n: 7 });
    expect(broker.rpcCircuit('chassis-fixture')).toBe('closed');
    expect(logged('circuit breaker half-open')).toHaveLength(2);
    expect(logged('circuit breaker closed')).toEqual([
      expect.objectContaining({ level: 'info', target: 'rpc-chassis-fixture' }),
    ]);
    const text = await metricsText();
    expect(text).toMatch(/circuit_breaker_state\{target="rpc-chassis-fixture",service="rpc-caller"\} 0/);
    expect(text).toMatch(
      /http_client_calls_total\{target="rpc-chassis-fixture",method="slowCount",outcome="timeout",service="rpc-caller"\} 5/,
    );
    expect(text).toMatch(
      /http_client_calls_total\{target="rpc-chassis-fixture",method="echo",outcome="circuit_open",service="rpc-caller"\} 1/,
    );
    expect(text).toMatch(
      /http_client_calls_total\{target="rpc-chassis-fixture",method="echo",outcome="ok",service="rpc-caller"\} 1/,
    );
    expect(text).toMatch(
      /rpc_call_duration_seconds_count\{[^}]*queue="rpc-chassis-fixture",method="echo",side="client",outcome="unavailable"\} 1/,
    );
  });

  it('opens for a service nobody serves (unroutable requests), one breaker per target', async () => {
    const { broker, logged, metricsText } = caller({
      breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
    });
    for (let i = 0; i < 3; i++) {
      const failure = await unavailability(broker.call('nobody', 'echo', {}, 5000));
      expect(failure).toMatchObject({ reason: 'network', detail: 'no queue rpc-nobody' });
    }
    expect(broker.rpcCircuit('nobody')).toBe('open');
    expect((await unavailability(broker.call('nobody', 'echo', {}, 5000))).reason).toBe('circuit_open');
    // the fixture's own breaker is untouched
    expect(broker.rpcCircuit('chassis-fixture')).toBe('closed');
    expect(await broker.call('chassis-fixture', 'echo', { n: 2 }, 5000)).toEqual({ n: 2 });
    expect(logged('circuit breaker opened')).toEqual([expect.objectContaining({ target: 'rpc-nobody' })]);
    const text = await metricsText();
    expect(text).toMatch(/circuit_breaker_state\{target="rpc-nobody",service="rpc-caller"\} 2/);
    expect(text).toMatch(/circuit_breaker_state\{target="rpc-chassis-fixture",service="rpc-caller"\} 0/);
    expect(text).toMatch(
      /http_client_calls_total\{target="rpc-nobody",method="echo",outcome="network",service="rpc-caller"\} 3/,
    );
  });

  it('counts an error the server replied with as an answer, not a failure', async () => {
    const { broker, metricsText } = caller({
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 10, resetTimeoutMs: 60_000 },
    });
    for (let i = 0; i < 10; i++) {
      await expect(
        broker.call('chassis-fixture', 'echo', { n: 'x' }, 5000, { idempotent: true }),
      ).rejects.toMatchObject({ code: 'validation_failed' });
    }
    await expect(broker.call('chassis-fixture', 'nothing', {}, 5000)).rejects.toMatchObject({
      code: 'unknown_method',
    });
    expect(broker.rpcCircuit('chassis-fixture')).toBe('closed');
    const text = await metricsText();
    expect(text).toMatch(
      /http_client_calls_total\{target="rpc-chassis-fixture",method="echo",outcome="client_error",service="rpc-caller"\} 10/,
    );
    // a reply is never retried, even for an idempotent call
    expect(text).not.toMatch(/http_client_retries_total\{/);
  });
});

describe('RPC calls: retries', () => {
  it('retries an idempotent call after a timeout, with back-off; it takes effect once', async () => {
    const { broker, logged, metricsText } = caller();
    const orderId = randomUUID();
    const result = await broker.call<{ counted: boolean; call: number }>(
      'chassis-fixture',
      'slowOnce',
      { orderId, ms: 500 },
      3000,
      { correlationId: orderId, idempotent: true, attemptTimeoutMs: 200 },
    );
    expect(result).toEqual({ counted: true, call: 2 });
    expect(logged('call failed; will retry')).toEqual([
      expect.objectContaining({
        level: 'debug',
        target: 'rpc-chassis-fixture',
        method: 'slowOnce',
        attempt: 1,
        reason: 'timeout',
        retry_in_ms: expect.any(Number),
      }),
    ]);
    const text = await metricsText();
    expect(text).toMatch(
      /http_client_retries_total\{target="rpc-chassis-fixture",method="slowOnce",service="rpc-caller"\} 1/,
    );
    expect(text).toMatch(
      /http_client_calls_total\{target="rpc-chassis-fixture",method="slowOnce",outcome="ok",service="rpc-caller"\} 1/,
    );
    // the first attempt's work finishes after its caller gave up, and is not committed
    await waitFor('the first attempt to be refused by the server', async () =>
      /rpc_call_duration_seconds_count\{[^}]*method="slowOnce",side="server",outcome="service_unavailable"\} 1/.test(
        await server.context.metrics.registry.metrics(),
      ),
    );
    expect(slowOnceCallsFor(orderId)).toBe(2);
    expect(await effectsFor(orderId)).toBe(1);
  });

  it('never retries a call that is not marked idempotent', async () => {
    const { broker, metricsText } = caller();
    const orderId = randomUUID();
    const started = Date.now();
    const failure = await unavailability(
      broker.call('chassis-fixture', 'slowOnce', { orderId, ms: 500 }, 200, { correlationId: orderId }),
    );
    expect(failure).toMatchObject({ reason: 'timeout', detail: 'no answer within 200 ms' });
    expect(Date.now() - started).toBeLessThan(400);
    await new Promise((resolve) => setTimeout(resolve, 500)); // time a retry would have had
    expect(slowOnceCallsFor(orderId)).toBe(1);
    const text = await metricsText();
    expect(text).not.toMatch(/http_client_retries_total\{/);
    expect(text).toMatch(
      /http_client_calls_total\{target="rpc-chassis-fixture",method="slowOnce",outcome="timeout",service="rpc-caller"\} 1/,
    );
  });

  it('keeps every attempt, and all of them together, within the call’s timeout', async () => {
    const { broker, metricsText } = caller();
    const started = Date.now();
    // three attempts share 600 ms; the server takes 1 s every time
    const failure = await unavailability(
      broker.call('chassis-fixture', 'slowCount', { orderId: randomUUID(), ms: 1000 }, 600, {
        idempotent: true,
      }),
    );
    const elapsed = Date.now() - started;
    expect(failure.reason).toBe('timeout');
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(800);
    expect(await metricsText()).toMatch(
      /http_client_retries_total\{target="rpc-chassis-fixture",method="slowCount",service="rpc-caller"\} 2/,
    );
  });

  it('does not retry once the circuit is open', async () => {
    const { broker, metricsText } = caller({
      breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60_000 },
    });
    const failure = await unavailability(
      broker.call('nobody', 'echo', {}, 2000, { idempotent: true, retries: 3 }),
    );
    expect(failure.reason).toBe('circuit_open');
    const text = await metricsText();
    // the first attempt failed and opened the circuit; its retry was refused, and no more were tried
    expect(text).toMatch(
      /http_client_retries_total\{target="rpc-nobody",method="echo",service="rpc-caller"\} 1/,
    );
    expect(text).toMatch(/http_client_calls_total\{[^}]*outcome="circuit_open"[^}]*\} 1/);
  });
});

describe('RPC calls: the rpc exchange', () => {
  it('sends requests through the rpc exchange: a caller that may write to it, and not to the default exchange, is answered', async () => {
    // the permissions a pure RPC client gets (contracts' brokerPermissions for the gateway)
    const url = await brokerUser(env.AMQP_URL as string, 'simplebank_test_chassis_rpc.caller', {
      configure: '^(rpc|rpc-caller\\.dlx)$',
      write: '^(rpc|rpc-caller\\.dlx)$',
      read: '^(amq\\.rabbitmq\\.reply-to)$',
    });
    const { broker } = caller({}, url);
    expect(await broker.call('chassis-fixture', 'echo', { n: 3 }, 5000)).toEqual({ n: 3 });
    // the same user through the default exchange, to the server's queue by name: refused
    await expect(
      publishRaw(url, '', 'rpc-chassis-fixture', { method: 'echo', params: { n: 4 } }, { declare: false }),
    ).rejects.toThrow(/ACCESS_REFUSED|access to exchange 'amq.default'/i);
  });
});
