import { type Static, type TObject, Type } from 'typebox';
import { Compile } from 'typebox/compile';

/** The services that publish events; each owns the exchange `<service>.events`. */
export type Publisher = 'orders' | 'account-transactions' | 'fees' | 'market';

export interface EventDefinition<S extends TObject = TObject> {
  /** PascalCase event name, also the AMQP `type` property. */
  readonly name: string;
  /** snake_case routing key on the publisher's exchange. */
  readonly routingKey: string;
  readonly source: Publisher;
  readonly exchange: string;
  readonly version: number;
  readonly schema: S;
  /** Canonical example used by producer and consumer tests alike. */
  readonly example: Static<S>;
  readonly validate: (payload: unknown) => string | undefined;
  /**
   * `saga` (the default): a step of the order saga, consumed by durable per-handler queues; one
   * that no queue takes is a fault (published `mandatory`). `live`: news for whoever is listening
   * now (a gateway's connected browsers) through per-instance queues; nobody listening is fine.
   */
  readonly delivery: 'saga' | 'live';
}

export type PayloadOf<E> = E extends EventDefinition<infer S> ? Static<S> : never;

/** The envelope every event travels in (docs/architecture.md §3). */
export const Envelope = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    type: Type.String({ minLength: 1, maxLength: 100 }),
    version: Type.Integer({ minimum: 1 }),
    occurredAt: Type.String({ format: 'date-time' }),
    source: Type.String({ minLength: 1, maxLength: 100 }),
    correlationId: Type.String({ minLength: 1, maxLength: 100 }),
    causationId: Type.Union([Type.String({ maxLength: 100 }), Type.Null()]),
    payload: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type Envelope<P = unknown> = Omit<Static<typeof Envelope>, 'payload'> & { payload: P };

const envelopeValidator = Compile(Envelope);

export const snakeCase = (name: string): string => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** Explains the first few schema violations in one line, or undefined when the value is valid. */
export function explain(validator: ReturnType<typeof Compile>, value: unknown): string | undefined {
  if (validator.Check(value)) return undefined;
  return [...validator.Errors(value)]
    .slice(0, 3)
    .map((e) => `${e.instancePath || '/'} ${e.message}`)
    .join('; ');
}

export function validateEnvelope(value: unknown): string | undefined {
  return explain(envelopeValidator, value);
}

export function defineEvent<S extends TObject>(def: {
  name: string;
  source: Publisher;
  version?: number;
  schema: S;
  example: Static<S>;
  delivery?: 'saga' | 'live';
}): EventDefinition<S> {
  const validator = Compile(def.schema);
  return {
    name: def.name,
    routingKey: snakeCase(def.name),
    source: def.source,
    exchange: `${def.source}.events`,
    version: def.version ?? 1,
    schema: def.schema,
    example: def.example,
    validate: (payload) => explain(validator, payload),
    delivery: def.delivery ?? 'saga',
  };
}
