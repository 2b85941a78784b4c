// The RabbitMQ half of the exact-work floor: the messages N orders cost the system, published and
// consumed by a bare client with no services, so that the system's cost per order can be set
// beside what its broker cannot avoid spending on the same work.

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, type Consumer, type Publisher } from 'rabbitmq-client';
import { groupCpuSeconds, pidsNamed } from './processes.ts';
import { sendConfirmed } from './references.ts';

/** Messages per order, as the system counted them: published, and delivered to consumers. */
export interface AmqpWorkPerOrder {
  published: number;
  delivered: number;
}

export interface AmqpFloor {
  orders: number;
  messagesPublished: number;
  messagesDelivered: number;
  rabbitmqCpuMsPerOrder: number;
  clientCpuMsPerOrder: number;
  seconds: number;
}

const EXCHANGE = 'bench.floor';
const TIMEOUT_MS = 120_000;

/**
 * How many queues each of `published` messages goes to so that there are `delivered` deliveries in
 * all: floor or ceil of delivered/published each, the larger ones spread evenly through the run
 * rather than bunched at its start.
 */
export function fanOut(published: number, delivered: number): number[] {
  if (
    !Number.isInteger(published) ||
    !Number.isInteger(delivered) ||
    published < 1 ||
    delivered < published
  ) {
    throw new RangeError(
      `fan-out needs integers with delivered ≥ published ≥ 1, not ${delivered}, ${published}`,
    );
  }
  // the i-th message takes the deliveries between i/P and (i+1)/P of the way to D
  return Array.from(
    { length: published },
    (_, i) => Math.floor(((i + 1) * delivered) / published) - Math.floor((i * delivered) / published),
  );
}

/**
 * Does the message work of `orders` orders through a bare publisher and consumer: the same number
 * of messages published, each reaching as many quorum queues as it takes to make the same number
 * of deliveries, with the services' settings (persistent, publisher confirms with 100 unconfirmed
 * at most, manual acks). RabbitMQ's CPU and this process' own are read over the run, from the first
 * publish to the last ack, setup and teardown left out.
 *
 * Fewer deliveries than publishes (a message no queue took) is counted as one delivery each: the
 * floor's messages all reach a queue.
 */
export async function amqpFloor(
  amqpUrl: string,
  perOrder: AmqpWorkPerOrder,
  orders = 2000,
  /** Paced at this many orders' messages a second (as the system sent them); else flat out. */
  ordersPerSecond?: number,
): Promise<AmqpFloor> {
  const published = Math.max(1, Math.round(perOrder.published * orders));
  const delivered = Math.max(published, Math.round(perOrder.delivered * orders));
  const plan = fanOut(published, delivered);
  const width = Math.ceil(delivered / published);
  const queues = Array.from({ length: width }, (_, j) => `${EXCHANGE}.q${j + 1}`);

  const connection = new Connection(amqpUrl);
  const consumers: Consumer[] = [];
  let publisher: Publisher | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await connection.exchangeDeclare({ exchange: EXCHANGE, type: 'direct', durable: true });
    for (const [j, queue] of queues.entries()) {
      await connection.queueDeclare({ queue, durable: true, arguments: { 'x-queue-type': 'quorum' } });
      await connection.queuePurge(queue); // a run that died may have left messages behind
      // q_j takes keys c_j..c_m, so a message sent with c_k reaches q_1..q_k: exactly k queues
      for (let k = j + 1; k <= width; k++) {
        await connection.queueBind({ queue, exchange: EXCHANGE, routingKey: `c${k}` });
      }
    }

    let received = 0;
    const allReceived = Promise.withResolvers<void>();
    allReceived.promise.catch(() => {}); // a failure before the wait begins is still heard there
    const fail = (error: unknown) => allReceived.reject(error);
    connection.on('error', fail);
    for (const queue of queues) {
      const consumer = connection.createConsumer(
        { queue, queueOptions: { passive: true }, qos: { prefetchCount: 64 } },
        async () => {
          if (++received === delivered) allReceived.resolve();
        },
      );
      consumer.on('error', fail);
      consumers.push(consumer);
    }
    // consuming from the start, so that the readings hold the work and not the setup
    await Promise.all(consumers.map((consumer) => once(consumer, 'ready')));
    const sender = connection.createPublisher({ confirm: true, maxAttempts: 1 });
    publisher = sender;

    const rabbitmq = pidsNamed('beam.smp');
    const rabbitmqBefore = groupCpuSeconds(rabbitmq);
    const clientBefore = process.cpuUsage();
    const started = performance.now();
    timer = setTimeout(
      () =>
        fail(new Error(`amqp floor: ${received} of ${delivered} deliveries after ${TIMEOUT_MS / 1000} s`)),
      TIMEOUT_MS,
    );
    await Promise.all([
      sendConfirmed(published, async (i) => {
        if (ordersPerSecond !== undefined) {
          // each message at its slot: a broker fed slowly batches less, as the system's is fed
          const slot = started + (i * 1000) / (ordersPerSecond * (published / orders));
          await sleep(slot - performance.now());
        }
        await sender.send({ exchange: EXCHANGE, routingKey: `c${plan[i]}`, durable: true }, sagaEvent());
      }),
      allReceived.promise,
    ]);
    // a consumer closes once its handlers have settled, so every ack has then been sent
    await Promise.all(consumers.map((consumer) => consumer.close()));
    const seconds = (performance.now() - started) / 1000;
    const client = process.cpuUsage(clientBefore);
    const rabbitmqSeconds = groupCpuSeconds(rabbitmq) - rabbitmqBefore;

    return {
      orders,
      messagesPublished: published,
      messagesDelivered: received,
      rabbitmqCpuMsPerOrder: (rabbitmqSeconds * 1000) / orders,
      clientCpuMsPerOrder: (client.user + client.system) / 1000 / orders,
      seconds,
    };
  } finally {
    clearTimeout(timer);
    await Promise.allSettled(consumers.map((consumer) => consumer.close()));
    await publisher?.close();
    await Promise.allSettled(queues.map((queue) => connection.queueDelete(queue)));
    await connection.exchangeDelete({ exchange: EXCHANGE }).catch(() => {});
    await connection.close();
  }
}

/** A saga event of about 400 bytes, as the services send them; money as decimal strings. */
function sagaEvent(): string {
  return JSON.stringify({
    id: randomUUID(),
    type: 'FundsReserved',
    version: 1,
    source: 'accounts',
    occurred_at: new Date().toISOString(),
    order_id: randomUUID(),
    account_id: randomUUID(),
    symbol: 'ACME',
    side: 'buy',
    quantity: 25,
    status: 'funds_reserved',
    price: '123.4500',
    amount: '3086.25',
    fee: '4.63',
    reserved: '3090.88',
    currency: 'USD',
  });
}
