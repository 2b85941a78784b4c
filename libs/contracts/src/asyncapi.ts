import { Envelope, type EventDefinition } from './event.ts';
import { allEvents } from './events.ts';
import {
  deadLetterExchange,
  deadLetterQueue,
  handlerQueue,
  liveQueue,
  retryQueue,
  type Subscription,
  subscriptions,
} from './topology.ts';

// The AsyncAPI 3 document of every event (docs/asyncapi.json), made from this library alone: the
// events' schemas and examples, their producers (`source`), their consumers (`subscriptions`) and
// the naming rules of topology.ts. `pnpm --filter @simplebank/contracts asyncapi` writes it; a test
// keeps the committed file equal to what this makes.

const AMQP = { bindingVersion: '0.3.0' } as const;
const ref = (path: string) => ({ $ref: path });
const channelOf = (event: EventDefinition) => `${event.exchange}/${event.routingKey}`;
const queueChannelOf = ({ event, service, handler }: Subscription) =>
  event.delivery === 'live'
    ? liveQueue(event, service, handler, '{instance}')
    : handlerQueue(event, service, handler);
/** JSON pointers escape `/` as `~1`. */
const pointer = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

/** Message headers (AMQP `headers`); the AMQP properties are described in each message. */
const Headers = {
  type: 'object',
  properties: {
    traceparent: {
      type: 'string',
      description: 'W3C trace context of the span that published the event: consumers continue its trace.',
      pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$',
    },
    tracestate: { type: 'string', description: 'W3C trace state, when the trace carries one.' },
    'x-attempt': {
      type: 'integer',
      minimum: 1,
      description: 'On a redelivery from a retry queue: how many times the handler has failed it.',
    },
    'x-last-error': { type: 'string', description: 'On a redelivery: the last error of the handler.' },
  },
};

const PROPERTIES = [
  'AMQP properties: `messageId` = the envelope `id` (consumers keep it in their inbox: a',
  'redelivered message is acknowledged and skipped); `correlationId` = the saga correlation id (the',
  'order id); `type` = the event name; `appId` = the producing service; `contentType`',
  '`application/json`; `timestamp` = when the producer committed it; persistent (delivery mode 2).',
].join(' ');

const DESCRIPTION = `The events of SimpleBank's order saga (docs/architecture.md §2–3, docs/saga.md).

**Exchanges.** Each publishing service owns one durable topic exchange, \`<service>.events\`; the
routing key is the event name in snake_case (\`OrderCreated\` → \`order_created\`). A channel here is
one event on its exchange (\`<exchange>/<routing key>\`), plus one channel per consumer queue.

**Queues.** Each handler of a consuming service has its own durable quorum queue
\`evt-<source>-<routing key>--<consumer>.<handler>\` bound to the event's exchange with its routing key
(arguments: \`x-queue-type: quorum\`, \`x-delivery-limit: 20\`, \`x-dead-letter-exchange: <consumer>.dlx\`).
A failed message waits in \`<queue>.retry.<n>\` (classic, per-message TTL, dead-lettered back to the
queue) and, after the last attempt or when it does not match its schema, is parked in
\`<queue>.dlq\` through the consumer's direct exchange \`<consumer>.dlx\` (routing key = the queue's
name) with \`x-death-reason\`, \`x-original-exchange\`, \`x-original-routing-key\`, \`x-parked-at\`.
\`live\` events (news, not saga steps) go to one queue per running instance of the consumer,
\`live-<source>-<routing key>--<consumer>.<handler>.<instance>\`: classic, exclusive, auto-deleted,
not acknowledged; what is published while no instance listens is dropped.

**Delivery.** Producers write events to a transactional outbox with the state change that caused
them; a relay publishes them with publisher confirms, \`mandatory\` for saga events. Consumers
validate the envelope and the payload, handle each message id once (inbox), and acknowledge only
after their effect has committed: delivery is at least once, handling effectively once.

**Envelope.** Every message body is \`{ id, type, version, occurredAt, source, correlationId,
causationId, payload }\`; the payload schema is the event's.

RPC (gateway → orders, queue \`rpc-orders\`, direct reply-to) is not an event and is described in the
gateway's OpenAPI document (docs/openapi.json) by its effects.`;

export function asyncApiDocument(version: string) {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {
    Envelope: { ...Envelope, properties: { ...Envelope.properties } },
  };

  for (const event of allEvents) {
    const consumers = subscriptions.filter((s) => s.event === event);
    schemas[`${event.name}Payload`] = event.schema;
    messages[event.name] = {
      name: event.name,
      title: event.name,
      summary: `${event.source} publishes it${event.delivery === 'live' ? ' (live news)' : ''}; consumed by ${
        consumers.map((s) => `${s.service}.${s.handler}`).join(', ') || 'nobody'
      }.`,
      description: `Version ${event.version}. ${PROPERTIES}`,
      contentType: 'application/json',
      headers: Headers,
      payload: {
        allOf: [
          ref('#/components/schemas/Envelope'),
          {
            type: 'object',
            properties: {
              type: { const: event.name },
              version: { const: event.version },
              source: { const: event.source },
              payload: ref(`#/components/schemas/${event.name}Payload`),
            },
          },
        ],
      },
      bindings: { amqp: { messageType: event.name, ...AMQP } },
      examples: [
        {
          name: 'canonical',
          summary: 'The example producer and consumer tests share',
          headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
          payload: {
            id: '7d2d3b0e-9f7a-4c55-8a2f-0c7b2e9a1d11',
            type: event.name,
            version: event.version,
            occurredAt: '2026-01-02T10:00:00.000Z',
            source: event.source,
            correlationId: (event.example as { orderId?: string }).orderId ?? 'c1',
            causationId: null,
            payload: event.example,
          },
        },
      ],
    };

    const channel = channelOf(event);
    const messageRef = ref(`#/components/messages/${event.name}`);
    channels[channel] = {
      address: event.routingKey,
      title: `${event.name} on ${event.exchange}`,
      description: `Routing key \`${event.routingKey}\` on the topic exchange \`${event.exchange}\`.`,
      messages: { [event.name]: messageRef },
      bindings: {
        amqp: {
          is: 'routingKey',
          exchange: { name: event.exchange, type: 'topic', durable: true, autoDelete: false, vhost: '/' },
          ...AMQP,
        },
      },
    };
    operations[`${event.source}.publish${event.name}`] = {
      action: 'send',
      title: `${event.source} publishes ${event.name}`,
      summary: `Through ${event.source}'s outbox, with publisher confirms.`,
      channel: ref(`#/channels/${pointer(channel)}`),
      messages: [ref(`#/channels/${pointer(channel)}/messages/${event.name}`)],
      tags: [{ name: event.source }],
      'x-producer': event.source,
      bindings: {
        amqp: { deliveryMode: 2, mandatory: event.delivery === 'saga', ...AMQP },
      },
    };

    for (const subscription of consumers) {
      const { service, handler } = subscription;
      const queue = queueChannelOf(subscription);
      const live = event.delivery === 'live';
      channels[queue] = {
        address: queue,
        title: `${service}.${handler}'s queue`,
        description: live
          ? `One per running ${service} instance; bound to \`${event.exchange}\` with \`${event.routingKey}\`.`
          : `Bound to \`${event.exchange}\` with \`${event.routingKey}\`. Retries: \`${retryQueue(queue, 1)}\`, …; parking lot: \`${deadLetterQueue(queue)}\` via \`${deadLetterExchange(service)}\`.`,
        ...(live
          ? { parameters: { instance: { description: 'A random id of the running instance.' } } }
          : {}),
        messages: { [event.name]: messageRef },
        bindings: {
          amqp: {
            is: 'queue',
            queue: {
              name: queue,
              durable: !live,
              exclusive: live,
              autoDelete: live,
              vhost: '/',
            },
            ...AMQP,
          },
        },
      };
      operations[`${service}.${handler}`] = {
        action: 'receive',
        title: `${service} ${handler}`,
        summary: `${service} consumes ${event.name} (${event.exchange}, ${event.routingKey}) in ${handler}.`,
        channel: ref(`#/channels/${pointer(queue)}`),
        messages: [ref(`#/channels/${pointer(queue)}/messages/${event.name}`)],
        tags: [{ name: service }],
        'x-consumer': service,
        bindings: { amqp: { ack: !live, ...AMQP } },
      };
    }
  }

  return {
    asyncapi: '3.0.0',
    info: { title: 'SimpleBank order events', version, description: DESCRIPTION },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: '127.0.0.1:5672',
        protocol: 'amqp',
        protocolVersion: '0-9-1',
        description: 'RabbitMQ as `pnpm start` and docker compose run it (AMQP_URL).',
      },
    },
    channels,
    operations,
    components: { schemas, messages },
  };
}
