import { createHash } from 'node:crypto';
import { HttpError, type Logger } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import type { Redis } from 'ioredis';
import { v5 as uuidV5 } from 'uuid';

/** How long a key is kept: a retry within a day gets the first answer. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * How long a key may go unanswered before it is taken for abandoned: longer than any request can
 * take (the gateway gives each 10 s, REQUEST_TIMEOUT_MS), short enough that a gateway that died
 * mid-request does not block the key for a day. A retry after that derives the same order id, so
 * orders still creates one order.
 */
export const UNANSWERED_MAX_MS = 60_000;

/** The answer a key replays: status code and body as first sent. */
export interface StoredResponse {
  statusCode: number;
  body: unknown;
}

type Entry =
  | { fingerprint: string; state: 'in_progress' }
  | ({ fingerprint: string; state: 'done' } & StoredResponse);

/**
 * What `begin` found: go ahead (this request owns the key), a claim with no answer stored (its
 * request may be running, may have placed the order, or may have died: the route finds out), or
 * the first answer to replay.
 */
export type Begun =
  | { kind: 'proceed' }
  | { kind: 'unanswered'; ageMs: number }
  | { kind: 'replay'; response: StoredResponse };

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** What a request is, for comparing a retry with the first: the route and the body's fields. */
export const fingerprintOf = (route: string, fields: readonly unknown[]): string =>
  sha256(JSON.stringify([route, ...fields]));

/**
 * Claims a key (SET NX), or returns what it holds and for how much longer, in one round trip and
 * atomically (no window in which the key could vanish between the two). Its age is read from the
 * key's own TTL, Redis's clock, so no two gateways' clocks are ever compared.
 */
const CLAIM = `
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return false end
return { redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]) }`;

interface ClaimingRedis extends Redis {
  claimIdempotencyKey(key: string, entry: string, ttlMs: number): Promise<[string, number] | null>;
}

/**
 * `Idempotency-Key` of `POST /shares/*`, per customer, in Redis (docs/architecture.md §1: the
 * gateway's short-lived state). The first request with a key claims it for 24 h with its fingerprint. A
 * request that finds the key:
 * - with a different body → 422 idempotency_key_reused;
 * - answered with a refusal (4xx) → that answer, status code and body, again;
 * - claimed and unanswered → the route asks orders for the key's order (`unanswered`).
 * An order accepted is not written back: its answer is `{ order_id, status: 'created' }` with the
 * key's own order id, so the order existing is the record (one Redis round trip per order fewer).
 * A 5xx is not kept: the key is released, so a retry is tried for real (with the same order id).
 */
export class IdempotencyKeys {
  private readonly redis: ClaimingRedis;

  constructor(
    redis: Redis,
    private readonly log: Logger,
  ) {
    redis.defineCommand('claimIdempotencyKey', { numberOfKeys: 1, lua: CLAIM });
    this.redis = redis as ClaimingRedis;
  }

  private keyOf(customer: string, key: string): string {
    // the key is hashed: any printable text up to 128 characters makes a key of known length
    return `idempotency:${customer}:${sha256(key)}`;
  }

  /**
   * Claims `key` for this request, or says what became of it. When Redis is away this says
   * proceed: the order id derived from the key still keeps orders from creating a second order.
   */
  async begin(customer: string, key: string, fingerprint: string): Promise<Begun> {
    const marker: Entry = { fingerprint, state: 'in_progress' };
    let found: [string, number] | null;
    try {
      found = await this.redis.claimIdempotencyKey(
        this.keyOf(customer, key),
        JSON.stringify(marker),
        IDEMPOTENCY_TTL_MS,
      );
    } catch (error) {
      this.log.warn({ error }, 'idempotency keys unavailable; relying on the order id alone');
      return { kind: 'proceed' };
    }
    if (found === null) return { kind: 'proceed' };
    const [stored, ttlMs] = found;
    const entry = JSON.parse(stored) as Entry;
    if (entry.fingerprint !== fingerprint) throw keyReused();
    if (entry.state === 'in_progress') return { kind: 'unanswered', ageMs: IDEMPOTENCY_TTL_MS - ttlMs };
    return { kind: 'replay', response: { statusCode: entry.statusCode, body: entry.body } };
  }

  /** Stores a refusal (4xx) as the key's answer, for 24 h. */
  async complete(
    customer: string,
    key: string,
    fingerprint: string,
    response: StoredResponse,
  ): Promise<void> {
    const entry: Entry = { fingerprint, state: 'done', ...response };
    await this.redis
      .set(this.keyOf(customer, key), JSON.stringify(entry), 'PX', IDEMPOTENCY_TTL_MS)
      .catch((error) => this.log.warn({ error }, 'could not store an idempotent response'));
  }

  /** Releases the key after a failure worth retrying (a 5xx). */
  async release(customer: string, key: string): Promise<void> {
    await this.redis
      .del(this.keyOf(customer, key))
      .catch((error) => this.log.warn({ error }, 'could not release an idempotency key'));
  }
}

export const inProgress = () =>
  new HttpError(
    409,
    ErrorCode.requestInProgress,
    'a request with this Idempotency-Key is still in progress; retry shortly',
  );

export const keyReused = () =>
  new HttpError(
    422,
    ErrorCode.idempotencyKeyReused,
    'this Idempotency-Key was used for a different request; use a new key for a new order',
  );

/** Namespace of the order ids derived from idempotency keys (a random UUID, fixed forever). */
const ORDER_ID_NAMESPACE = 'a3f1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b';

/**
 * The order id of a customer's keyed order: a UUID v5 of (customer, key), so the same key always
 * names the same order and a retry after a timeout cannot create a second one (orders' T1 is
 * idempotent on the id). Another customer's same key names another order.
 */
export const orderIdFor = (customer: string, key: string): string =>
  uuidV5(`${customer}\n${key}`, ORDER_ID_NAMESPACE);
