import { randomUUID } from 'node:crypto';
import type { Envelope } from '@simplebank/contracts';
import { Compile } from 'typebox/compile';
import { type BatchRunner, JobExpired } from './batching.ts';
import type { EventHandler, RpcMethod, ServiceContext } from './definition.ts';
import type { Consuming } from './event-consumer.ts';
import type { FaultSwitch } from './faults.ts';
import { RpcError } from './rpc-client.ts';
import type { Slots } from './slots.ts';

// How the chassis runs a service's event handlers and RPC methods: in batches (batching.ts), each
// in one transaction with its inbox row and outbox rows, alone when its batch fails.

/** Serves the service's RPC methods on `rpc-<service>`, each call in one transaction with its outbox rows. */
export function serveRpcMethods<C>(
  svc: ServiceContext<C>,
  rpcMethods: Record<string, RpcMethod>,
  consuming: Consuming,
  batches: BatchRunner,
  slots: Slots,
) {
  const validators = Object.fromEntries(
    Object.entries(rpcMethods).map(([m, spec]) => [m, Compile(spec.params)]),
  );
  svc.broker.serveRpc(consuming, async (method, params, message, deadline) => {
    const spec = rpcMethods[method];
    const validator = validators[method];
    if (!spec || !validator) throw new RpcError('unknown_method', `${svc.name} has no method ${method}`);
    if (!validator.Check(params)) {
      const first = [...validator.Errors(params)][0];
      throw new RpcError(
        'validation_failed',
        `${first?.instancePath || 'params'} ${first?.message ?? 'invalid'}`,
      );
    }
    const header = message.headers?.['x-correlation-id'];
    const correlationId = typeof header === 'string' ? header : (message.messageId ?? randomUUID());
    const cause = { correlationId, causationId: message.messageId ?? null };
    const log = svc.log;
    const alone = () =>
      slots.run(() =>
        svc.transaction(cause, async (tx, publish, afterCommit) => {
          const result = await spec.handle(params, { tx, publish, afterCommit, log, correlationId });
          // The caller has given up and told its customer so: commit nothing it does not know of.
          if (Date.now() > deadline)
            throw new RpcError('service_unavailable', 'the caller gave up before this committed');
          return result;
        }),
      );
    return batches
      .submit({
        cause,
        lockKey: lockKeyOf(params, correlationId),
        ...(Number.isFinite(deadline) ? { deadline } : {}),
        work: (ctx) => spec.handle(params, { ...ctx, log, correlationId }),
        alone,
      })
      .catch((error: unknown) => {
        if (error instanceof JobExpired) throw new RpcError('service_unavailable', error.message);
        throw error;
      });
  });
}

/**
 * The order in which a batch handles its jobs (batching.ts): by account, then by saga. Handlers
 * lock an order's rows and its account's balances, so concurrent batches that take them in this
 * one order cannot deadlock.
 */
function lockKeyOf(payload: unknown, correlationId: string): string {
  const accountId = (payload as { accountId?: unknown } | undefined)?.accountId;
  return `${typeof accountId === 'string' ? accountId : ''}\n${correlationId}`;
}

/** Handles one event in the service's next batch (batching.ts); alone if its batch fails. */
export function handleInBatch<C>(
  svc: ServiceContext<C>,
  batches: BatchRunner,
  queue: string,
  spec: EventHandler,
  envelope: Envelope,
  faults: FaultSwitch,
  slots: Slots,
): Promise<'handled' | 'duplicate'> {
  const cause = { correlationId: envelope.correlationId, causationId: envelope.id };
  const log = () => {
    const orderId = (envelope.payload as { orderId?: string }).orderId;
    return svc.log.child({ order_id: orderId, event: envelope.type, message_id: envelope.id });
  };
  // the fault switch acts before the batch, so a slowed handler holds no transaction
  return faults.beforeHandler().then(() =>
    batches.submit({
      cause,
      lockKey: lockKeyOf(envelope.payload, envelope.correlationId),
      inbox: { handler: queue, messageId: envelope.id },
      work: async (ctx) => {
        await spec.handle(envelope.payload, { ...ctx, log: log(), envelope });
        return 'handled' as const;
      },
      alone: () => handleOnce(svc, queue, spec, envelope, slots),
    }),
  );
}

/** Runs one event handler at most once per message: inbox row, effect and outbox rows commit together. */
async function handleOnce<C>(
  svc: ServiceContext<C>,
  queue: string,
  spec: EventHandler,
  envelope: Envelope,
  slots: Slots,
) {
  const cause = { correlationId: envelope.correlationId, causationId: envelope.id };
  return slots.run(() =>
    svc.transaction(cause, async (tx, publish, afterCommit) => {
      const inserted = await tx.query(
        'INSERT INTO inbox (handler, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [queue, envelope.id],
      );
      if (inserted.rowCount === 0) return 'duplicate' as const;
      const orderId = (envelope.payload as { orderId?: string }).orderId;
      const log = svc.log.child({ order_id: orderId, event: envelope.type, message_id: envelope.id });
      await spec.handle(envelope.payload, { tx, publish, afterCommit, log, envelope });
      return 'handled' as const;
    }),
  );
}
