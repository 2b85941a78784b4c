import type { Envelope, EventDefinition } from '@simplebank/contracts';
import { type AsyncMessage, Connection, type Consumer, type PublisherProps } from 'rabbitmq-client';
import type { BreakerState } from './call-guard.ts';
import {
  type Consuming,
  EventConsumers,
  type EventHandling,
  type HandlerQueue,
  type RetryPolicy,
} from './event-consumer.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { ConfirmedPublisher, LivePublisher } from './publishers.ts';
import { RpcClient, type RpcClientOptions } from './rpc-client.ts';
import { type RpcHandling, serveRpc } from './rpc-server.ts';
import { type BrokerLink, brokerUserOf, Senders } from './senders.ts';
import { deadLetterExchange, deadLetterQueue, retryQueue } from './topology.ts';

export type { AsyncMessage };

export interface BrokerOptions {
  publishes: EventDefinition[];
  retry: RetryPolicy;
  /** Retries, back-off and circuit breakers of `call`; the chassis defaults otherwise. */
  rpc?: RpcClientOptions;
  /** AMQP heartbeat (s); the library's default (60) otherwise. */
  heartbeatSeconds?: number;
  /** The producers' broker users (`publisherUser`): `{service}` stands for the producer. */
  publisherUsers?: string | undefined;
}

/**
 * The service's RabbitMQ connection and what it declares (docs/architecture.md §3): a façade over
 * the publishers, the event consumers, the RPC server and the RPC client. rabbitmq-client
 * reconnects on its own and re-declares the topology and consumers on every reconnect.
 */
export class Broker {
  readonly connection: Connection;
  /** The broker user this service connects as: the `user_id` of everything it publishes. */
  readonly user: string;
  /** Made by `declareTopology`, which knows the handler queues whose topology they re-declare. */
  private publishers: { confirmed: ConfirmedPublisher; live: LivePublisher } | undefined;
  private readonly link: BrokerLink;
  private readonly events: EventConsumers;
  private readonly rpc: RpcClient;
  private readonly consumers: Consumer[] = [];
  private readonly readyConsumers = new Set<Consumer>();
  private readonly exchanges: Required<PublisherProps>['exchanges'];

  constructor(
    url: string,
    private readonly service: string,
    private readonly log: Logger,
    metrics: Metrics,
    private readonly options: BrokerOptions,
  ) {
    this.user = brokerUserOf(url);
    this.connection = new Connection({
      url,
      connectionName: service,
      retryLow: 200,
      retryHigh: 5000,
      // undefined would replace the library's default rather than leave it
      ...(options.heartbeatSeconds === undefined ? {} : { heartbeat: options.heartbeatSeconds }),
    });
    this.connection.on('error', (error) => log.warn({ error }, 'RabbitMQ connection error'));
    this.connection.on('connection', () => log.info('RabbitMQ connected'));
    const senders = new Senders(service, this.user, options.publisherUsers);
    this.link = { connection: this.connection, service, user: this.user, senders, log, metrics };
    this.events = new EventConsumers(this.link, options.retry, () => this.publisher);
    this.rpc = new RpcClient(this.link, options.rpc);
    this.exchanges = [
      ...[...new Set(options.publishes.map((e) => e.exchange))].map((exchange) => ({
        exchange,
        type: 'topic',
        durable: true,
      })),
      { exchange: deadLetterExchange(service), type: 'direct', durable: true },
    ];
  }

  get publisher(): ConfirmedPublisher {
    return this.declared().confirmed;
  }

  /** For live news: no confirms (it is lossy by contract, and nobody may be listening). */
  get livePublisher(): LivePublisher {
    return this.declared().live;
  }

  private declared(): { confirmed: ConfirmedPublisher; live: LivePublisher } {
    if (!this.publishers) throw new Error(`${this.service}: publishing before declareTopology`);
    return this.publishers;
  }

  /**
   * Declares the exchanges, and each handler queue's dead-letter and retry queues, now; the
   * publisher re-declares them on reconnect. Publishing works from here on.
   */
  async declareTopology(timeoutMs: number, handlerQueues: HandlerQueue[] = []): Promise<void> {
    const dlx = deadLetterExchange(this.service);
    const topology: Required<Pick<PublisherProps, 'exchanges' | 'queues' | 'queueBindings'>> = {
      exchanges: this.exchanges,
      queues: handlerQueues.flatMap(({ queue }) => [
        { queue: deadLetterQueue(queue), durable: true, arguments: { 'x-queue-type': 'quorum' } },
        // Classic queues: messages carry their own expiry, then go back to the handler queue.
        ...this.options.retry.delaysMs.map((_, i) => ({
          queue: retryQueue(queue, i + 1),
          durable: true,
          arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queue },
        })),
      ]),
      queueBindings: handlerQueues.map(({ queue }) => ({
        exchange: dlx,
        queue: deadLetterQueue(queue),
        routingKey: queue,
      })),
    };
    this.publishers = {
      confirmed: new ConfirmedPublisher(
        this.connection.createPublisher({ confirm: true, ...topology }),
        this.user,
      ),
      live: new LivePublisher(this.connection.createPublisher({ confirm: false }), this.user),
    };
    await this.connection.onConnect(timeoutMs, true);
    for (const exchange of topology.exchanges) await this.connection.exchangeDeclare(exchange);
    for (const queue of topology.queues) await this.connection.queueDeclare(queue);
    for (const binding of topology.queueBindings) await this.connection.queueBind(binding);
  }

  /** Consumes a handler queue, with retries and parking (`EventConsumers.consume`). */
  consume(handlerQueue: HandlerQueue, options: Consuming, handle: EventHandling): Consumer {
    return this.watchReadiness(this.events.consume(handlerQueue, options, handle), handlerQueue.queue);
  }

  /** Listens to live news on this instance's own queue (`EventConsumers.listen`). */
  listen(handlerQueue: HandlerQueue, handle: (envelope: Envelope) => void | Promise<void>): Consumer {
    return this.watchReadiness(this.events.listen(handlerQueue, handle), handlerQueue.queue);
  }

  /** Serves `rpc-<service>` (`serveRpc`). */
  serveRpc(options: Consuming, handle: RpcHandling): Consumer {
    return this.watchReadiness(serveRpc(this.link, options, handle), `rpc-${this.service}`);
  }

  /** Calls `service.method` (`RpcClient.call`: its arguments, its answer). */
  call<T>(...args: Parameters<RpcClient['call']>): Promise<T> {
    return this.rpc.call<T>(...args);
  }

  /** The state of the circuit breaker around `rpc-<service>`: closed until a call says otherwise. */
  rpcCircuit(service: string): BreakerState {
    return this.rpc.circuit(service);
  }

  /** True when connected and every consumer has (re)started. */
  get ready(): boolean {
    return this.connection.ready && this.readyConsumers.size === this.consumers.length;
  }

  /** Stops taking messages; resolves once the handlers in flight have settled. */
  async stopConsuming(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.close()));
  }

  async close(): Promise<void> {
    await this.stopConsuming();
    await this.rpc.close();
    await this.publishers?.confirmed.close();
    await this.publishers?.live.close();
    await this.connection.close();
  }

  private watchReadiness(consumer: Consumer, queue: string): Consumer {
    this.consumers.push(consumer);
    consumer.on('ready', () => this.readyConsumers.add(consumer));
    consumer.on('error', (error) => {
      this.readyConsumers.delete(consumer);
      if (/inequivalent arg/.test(String(error?.message))) {
        // Retrying cannot help: an older declaration of this queue stands in the way.
        this.log.error(
          { error, queue },
          `queue ${queue} exists with other arguments (declared by an older version): move its messages, ` +
            `then delete it (rabbitmqctl delete_queue ${queue}) and the service declares it anew`,
        );
        return;
      }
      this.log.warn({ error, queue }, 'consumer error; it restarts when the broker lets it');
    });
    return consumer;
  }
}
