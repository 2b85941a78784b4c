import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { AsyncMessage } from 'rabbitmq-client';

/**
 * Spans the chassis makes by hand: RabbitMQ has no instrumentation for rabbitmq-client, so the
 * outbox relay, the consumers and the RPC client and server open theirs here, with the messaging
 * semantic conventions. Without the SDK (`--import @simplebank/chassis/telemetry`) they are no-ops.
 */
export const tracer = trace.getTracer('@simplebank/chassis');

/** The context a message's (or outbox row's) `traceparent` header carries; `base` without one. */
export function contextFromHeaders(
  headers: Record<string, unknown> | undefined,
  base: Context = ROOT_CONTEXT,
): Context {
  const carrier: Record<string, string> = {};
  for (const key of ['traceparent', 'tracestate']) {
    const value = headers?.[key];
    if (typeof value === 'string') carrier[key] = value;
    else if (Buffer.isBuffer(value)) carrier[key] = value.toString();
  }
  return carrier.traceparent ? propagation.extract(base, carrier) : base;
}

/** `traceparent` (and `tracestate`) of `span` in `parent`, to put in a message's headers. */
export function traceHeaders(span: Span, parent: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), carrier);
  return carrier;
}

/** Messaging attributes of a RabbitMQ span (semantic conventions, messaging and rabbitmq). */
export function messagingAttributes(attributes: {
  operation: 'publish' | 'process' | 'send';
  destination: string;
  routingKey?: string | undefined;
  messageId?: string | undefined;
  correlationId?: string | undefined;
  extra?: Attributes;
}): Attributes {
  const { operation, destination, routingKey, messageId, correlationId, extra } = attributes;
  return {
    'messaging.system': 'rabbitmq',
    'messaging.operation.name': operation,
    'messaging.operation.type': operation === 'process' ? 'process' : 'send',
    'messaging.destination.name': destination,
    ...(routingKey === undefined ? {} : { 'messaging.rabbitmq.destination.routing_key': routingKey }),
    ...(messageId === undefined ? {} : { 'messaging.message.id': messageId }),
    ...(correlationId === undefined ? {} : { 'messaging.message.conversation_id': correlationId }),
    ...extra,
  };
}

/**
 * Runs `work` in `span` (made active, so logs and calls made in it join the trace), records a
 * thrown error on it and ends it when `work` settles.
 */
export async function inSpan<T>(span: Span, parent: Context, work: () => Promise<T>): Promise<T> {
  try {
    return await context.with(trace.setSpan(parent, span), work);
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Runs the handling of `message` in a span whose parent is the context of its `traceparent`
 * header: CONSUMER for an event (child of the relay's PRODUCER span), SERVER for an RPC request
 * (child of the caller's CLIENT span). Logs, queries and the events it publishes join its trace.
 */
export function processingSpan<T>(
  message: AsyncMessage,
  queue: string,
  kind: SpanKind.CONSUMER | SpanKind.SERVER,
  work: () => Promise<T>,
): Promise<T> {
  const parent = contextFromHeaders(message.headers);
  const rpc = kind === SpanKind.SERVER;
  const span = tracer.startSpan(
    rpc ? `${queue} ${String(message.type)}` : `process ${message.exchange || queue}`,
    {
      kind,
      attributes: messagingAttributes({
        operation: 'process',
        destination: message.exchange || queue,
        routingKey: message.routingKey,
        messageId: message.messageId,
        correlationId: message.correlationId,
        extra: {
          'messaging.destination.subscription.name': queue,
          ...(message.type ? { 'messaging.message.type': message.type } : {}),
          ...(rpc ? { 'rpc.system': 'rabbitmq', 'rpc.method': String(message.type) } : {}),
        },
      }),
    },
    parent,
  );
  return inSpan(span, parent, work);
}

export function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
}

export { SpanKind };

/** Exports the spans still buffered (the SDK's, when `telemetry` started one) and stops the SDK. */
export async function flushTelemetry(): Promise<void> {
  const sdk = (globalThis as Record<symbol, unknown>)[Symbol.for('simplebank.telemetry')] as
    | { shutdown(): Promise<void> }
    | undefined;
  // Bounded: with no collector listening, the exporter would hold the exit for its own 10 s timeout.
  const giveUp = new Promise<void>((resolve) => setTimeout(resolve, FLUSH_TIMEOUT_MS).unref());
  await Promise.race([sdk?.shutdown().catch(() => undefined), giveUp]);
}

const FLUSH_TIMEOUT_MS = 1000;

/** The trace id of the active span, if one is recording (or sampled out but valid). */
export function activeTraceId(): string | undefined {
  const span = trace.getActiveSpan()?.spanContext();
  return span && trace.isSpanContextValid(span) ? span.traceId : undefined;
}
