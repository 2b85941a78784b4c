import type { RpcReply } from '@simplebank/contracts';
import type { AsyncMessage, Consumer } from 'rabbitmq-client';
import { BUDGET_HEADER, deadlineFromBudget } from './deadline.ts';
import type { Consuming } from './event-consumer.ts';
import { observe } from './metrics.ts';
import { RpcError } from './rpc-client.ts';
import type { BrokerLink } from './senders.ts';
import { RPC_EXCHANGE, rpcQueue } from './topology.ts';
import { processingSpan, SpanKind } from './tracing.ts';

/** `deadline`: when the caller stops waiting, by this host's clock (infinite if it did not say). */
export type RpcHandling = (
  method: string,
  params: unknown,
  message: AsyncMessage,
  deadline: number,
) => Promise<unknown>;

/**
 * Serves `rpc-<service>`: each request `{ method, params }` from a client the contracts name gets a
 * `RpcReply`. A thrown `RpcError` is the reply's error; anything else is logged and answered as
 * `internal_error`.
 */
export function serveRpc(link: BrokerLink, options: Consuming, handle: RpcHandling): Consumer {
  const { connection, service, user, senders, log, metrics } = link;
  const queue = rpcQueue(service);
  return connection.createConsumer(
    {
      queue,
      queueOptions: { queue, durable: true },
      exchanges: [{ exchange: RPC_EXCHANGE, type: 'topic', durable: true }],
      queueBindings: [{ exchange: RPC_EXCHANGE, queue, routingKey: queue }],
      qos: { prefetchCount: options.prefetch },
      concurrency: options.concurrency,
      requeue: false,
    },
    (message, reply) =>
      processingSpan(message, queue, SpanKind.SERVER, async () => {
        const started = performance.now();
        // The caller's budget counts from delivery: how long the request waited in the queue
        // cannot be known here without comparing the caller's clock with this one. The broker
        // drops a request that waited longer than its budget (the caller sets its expiration).
        const deadline = deadlineFromBudget(message.headers?.[BUDGET_HEADER]) ?? Number.POSITIVE_INFINITY;
        if (Date.now() >= deadline) {
          observe(
            metrics.rpcCalls,
            { queue, method: String(message.type), side: 'server', outcome: 'expired' },
            0,
          );
          return;
        }
        const body = message.body as { method?: unknown; params?: unknown } | undefined;
        const method = typeof body?.method === 'string' ? body.method : 'unknown';
        const caller = senders.callerProblem(message);
        let response: RpcReply<unknown>;
        try {
          if (caller) throw new RpcError('forbidden', caller);
          response = { ok: true, result: await handle(method, body?.params, message, deadline) };
        } catch (error) {
          const known = error instanceof RpcError;
          if (!known) log.error({ error, method }, 'RPC method failed');
          response = {
            ok: false,
            error: known
              ? { code: error.code, message: error.message }
              : { code: 'internal_error', message: 'internal error' },
          };
        }
        const outcome = response.ok ? 'ok' : response.error.code;
        const seconds = (performance.now() - started) / 1000;
        observe(metrics.rpcCalls, { queue, method, side: 'server', outcome }, seconds);
        log.debug({ queue, method, outcome, duration_ms: Math.round(seconds * 1000) }, 'RPC call handled');
        if (message.replyTo) await reply(response, { contentType: 'application/json', userId: user });
      }),
  );
}
