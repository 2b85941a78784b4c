// The two reference measurements, on the same machine in the same run, so that saga throughput
// can be compared across machines as a ratio: RabbitMQ's round trip and PostgreSQL's pgbench -N.
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { freshDatabase } from '@simplebank/chassis/testing';
import { Connection } from 'rabbitmq-client';

const run = promisify(execFile);

/**
 * Messages per second through one quorum queue (what the services use): published with publisher
 * confirms, 100 unconfirmed at most, consumed with manual acks, prefetch 100.
 */
export async function rabbitmqRoundTrip(amqpUrl: string, messages = 20_000): Promise<number> {
  const connection = new Connection(amqpUrl);
  const queue = 'bench.round-trip';
  await connection.queueDeclare({ queue, durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await connection.queuePurge(queue);
  let received = 0;
  let done: () => void = () => {};
  const allReceived = new Promise<void>((resolve) => {
    done = resolve;
  });
  const consumer = connection.createConsumer(
    { queue, queueOptions: { passive: true }, qos: { prefetchCount: 100 } },
    async () => {
      if (++received === messages) done();
    },
  );
  const publisher = connection.createPublisher({ confirm: true, maxAttempts: 1 });
  const started = performance.now();
  const body = JSON.stringify({ order_id: '00000000-0000-0000-0000-000000000000', status: 'created' });
  await sendConfirmed(messages, () => publisher.send({ routingKey: queue, durable: true }, body));
  await allReceived;
  const perSecond = messages / ((performance.now() - started) / 1000);
  await consumer.close();
  await publisher.close();
  await connection.queueDelete(queue);
  await connection.close();
  return perSecond;
}

/**
 * Sends `count` messages, the i-th through `send(i)`, with at most `window` unconfirmed at a time:
 * enough to keep the broker busy without the client running ahead of it. Resolves once every
 * confirm is in. A failure stops the sending and rejects, but only once the rest have settled, so
 * that none of them rejects unheard.
 */
export async function sendConfirmed(
  count: number,
  send: (i: number) => Promise<void>,
  window = 100,
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for (let i = 0; i < count && failure === undefined; i++) {
    const sent: Promise<void> = send(i).then(
      () => {
        inFlight.delete(sent);
      },
      (error: unknown) => {
        inFlight.delete(sent);
        failure ??= { error };
      },
    );
    inFlight.add(sent);
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure.error;
}

/** pgbench's simple-update transactions per second (-N), 4 clients, `seconds` long, on its own database. */
export async function pgbench(seconds = 10): Promise<number> {
  const database = await freshDatabase('simplebank_bench_pgbench');
  await run('pgbench', ['-i', '-q', '-s', '4', database]);
  const { stdout } = await run('pgbench', ['-N', '-c', '4', '-j', '2', '-T', String(seconds), database]);
  const tps = /tps = ([\d.]+)/.exec(stdout)?.[1];
  if (tps === undefined) throw new Error(`pgbench printed no tps:\n${stdout}`);
  return Number(tps);
}
