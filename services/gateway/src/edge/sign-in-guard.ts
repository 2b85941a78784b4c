import { HttpError, type Logger } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';

/** How long an address a customer signed in from stays exempt from their username's budget. */
export const KNOWN_ADDRESS_TTL_MS = 30 * 24 * 3600 * 1000;

type Limiter = (
  request: FastifyRequest,
  options?: { increment?: boolean },
) => Promise<
  { isAllowed: true; key: string } | { isAllowed: false; remaining: number; ttlInSeconds: number }
>;

/**
 * The budget of failed sign-ins per username, on top of the budget per IP address: a guess at one
 * account spread over many addresses (a botnet) runs out of it. Only failures count, and an address
 * the customer has signed in from (in the last 30 days) is exempt, so that a stranger who spends
 * a customer's budget locks out only the strangers: the customer signs in as usual from home.
 * Counted by the rate limits' store (Redis, this process while Redis is away); the addresses are
 * kept in Redis only, and while it is away no address is known (stricter, never looser).
 */
export class SignInGuard {
  constructor(
    private readonly failures: Limiter,
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  /** A 429 rate_limited when `username`'s failures are spent and the caller's address is not known. */
  async admit(request: FastifyRequest, reply: FastifyReply, username: string): Promise<void> {
    const status = await this.failures(request, { increment: false });
    if (status.isAllowed || status.remaining > 0) return;
    if (await this.known(username, request.ip)) return;
    reply.header('retry-after', String(Math.max(1, status.ttlInSeconds)));
    throw new HttpError(
      429,
      ErrorCode.rateLimited,
      'too many failed sign-ins for this username; retry later',
    );
  }

  /** Counts a wrong password (or an unknown username) against the username's budget. */
  async failed(request: FastifyRequest): Promise<void> {
    await this.failures(request);
  }

  /** Remembers the address a customer signed in from. */
  async succeeded(username: string, ip: string): Promise<void> {
    await this.redis
      .set(knownKey(username, ip), '1', 'PX', KNOWN_ADDRESS_TTL_MS)
      .catch((error: unknown) => this.log.warn({ error }, 'could not remember a sign-in address'));
  }

  private known(username: string, ip: string): Promise<boolean> {
    return this.redis.exists(knownKey(username, ip)).then(
      (count) => count > 0,
      () => false,
    );
  }
}

const knownKey = (username: string, ip: string) => `sign-in-known:${username}:${ip}`;
