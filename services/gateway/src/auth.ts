import { randomUUID } from 'node:crypto';
import { HttpError } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors, jwtVerify, SignJWT } from 'jose';

/** Who issues the tokens and who they are for; a token of anyone else's is refused. */
export const TOKEN_ISSUER = 'simplebank-gateway';
export const TOKEN_AUDIENCE = 'simplebank-api';
const ALGORITHM = 'HS256';
const REALM = 'Bearer realm="simplebank"';
const USERNAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The customers' bearer tokens: JWTs signed with HS256 under JWT_SECRET, `sub` = the username,
 * with issuer, audience, issue and expiry times. Only HS256 is accepted (no `alg: none`, no
 * algorithm swapping), and a token must carry an expiry.
 */
export class Tokens {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  /** A token for `username`, valid from `now` for the TTL. */
  issue(username: string, now: Date = new Date()): Promise<string> {
    const issuedAt = Math.floor(now.getTime() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setSubject(username)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + this.ttlSeconds)
      .setJti(randomUUID())
      .sign(this.key);
  }

  /** The username a valid token was issued to; undefined for anything else. */
  async verify(token: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      return typeof payload.sub === 'string' && USERNAME.test(payload.sub) ? payload.sub : undefined;
    } catch (error) {
      if (error instanceof errors.JOSEError) return undefined;
      throw error;
    }
  }
}

/** What a request's Authorization header proved: a customer, nothing (no header), or a bad token. */
type Identity = { customer: string } | { problem: 'missing' | 'invalid' };
const identities = new WeakMap<FastifyRequest, Identity>();

/** The bearer token of an `Authorization: Bearer <token>` header; null for another scheme. */
function bearerToken(header: string): string | null {
  const match = /^Bearer +([A-Za-z0-9_.~+/-]+=*) *$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * onRequest, for every API route and before the rate limit (which counts per customer): works out
 * who is calling. It refuses nothing itself; `requireCustomer` does, on the routes that need one.
 */
export function identify(tokens: Tokens) {
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      identities.set(request, { problem: 'missing' });
      return;
    }
    const token = bearerToken(header);
    const customer = token === null ? undefined : await tokens.verify(token);
    identities.set(request, customer === undefined ? { problem: 'invalid' } : { customer });
  };
}

/** The signed-in customer, or undefined (no token, or a bad one). */
export function customerOf(request: FastifyRequest): string | undefined {
  const identity = identities.get(request);
  return identity && 'customer' in identity ? identity.customer : undefined;
}

/** The customer a `requireCustomer` route is running for. */
export function signedIn(request: FastifyRequest): string {
  const customer = customerOf(request);
  if (customer === undefined) throw new Error('route without requireCustomer');
  return customer;
}

/**
 * preParsing, on every route that needs a customer: 401 unauthorized with `WWW-Authenticate:
 * Bearer` (RFC 6750) when the token is missing, malformed, forged or expired. It runs after the
 * rate limit (so guessing tokens is limited too) and before the body is read or validated.
 */
export async function requireCustomer(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const identity = identities.get(request) ?? { problem: 'missing' };
  if ('customer' in identity) return;
  if (identity.problem === 'missing') {
    reply.header('www-authenticate', REALM);
    throw new HttpError(401, ErrorCode.unauthorized, 'this needs a bearer token: POST /auth/token');
  }
  reply.header('www-authenticate', `${REALM}, error="invalid_token"`);
  throw new HttpError(401, ErrorCode.unauthorized, 'the bearer token is invalid or has expired');
}
