import { randomUUID } from 'node:crypto';
import { HttpError } from '@simplebank/chassis';
import { ErrorCode } from '@simplebank/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors, jwtVerify, SignJWT } from 'jose';
import type { TokenVersions } from './revocation.ts';

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

  /** A token for `username`, valid from `now` for the TTL, of the customer's token version (revocation.ts). */
  issue(username: string, now: Date = new Date(), version = 0): Promise<string> {
    const issuedAt = Math.floor(now.getTime() / 1000);
    return new SignJWT({ ver: version })
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
    return (await this.check(token))?.customer;
  }

  /** What a valid token says: its customer, their token version at issue, when it expires (ms). */
  async check(token: string): Promise<TokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      if (typeof payload.sub !== 'string' || !USERNAME.test(payload.sub)) return undefined;
      // tokens issued before revocation existed carry no version: the first one
      const version = payload.ver === undefined ? 0 : payload.ver;
      if (!Number.isSafeInteger(version) || (version as number) < 0) return undefined;
      return { customer: payload.sub, version: version as number, expiresAt: (payload.exp as number) * 1000 };
    } catch (error) {
      if (error instanceof errors.JOSEError) return undefined;
      throw error;
    }
  }
}

export interface TokenClaims {
  customer: string;
  version: number;
  /** Unix time in milliseconds. */
  expiresAt: number;
}

/** What a request's Authorization header proved: a customer, nothing (no header), or a bad token. */
type Identity = (TokenClaims & { versions: TokenVersions }) | { problem: 'missing' | 'invalid' };
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
export function identify(tokens: Tokens, versions: TokenVersions) {
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      identities.set(request, { problem: 'missing' });
      return;
    }
    const token = bearerToken(header);
    const claims = token === null ? undefined : await tokens.check(token);
    identities.set(request, claims === undefined ? { problem: 'invalid' } : { ...claims, versions });
  };
}

/** The signed-in customer, or undefined (no token, or a bad one). */
export function customerOf(request: FastifyRequest): string | undefined {
  const identity = identities.get(request);
  return identity && 'customer' in identity ? identity.customer : undefined;
}

/** The claims of the token a `requireCustomer` route is running for. */
export function tokenOf(request: FastifyRequest): TokenClaims {
  const identity = identities.get(request);
  if (!identity || !('customer' in identity)) throw new Error('route without requireCustomer');
  return identity;
}

/** The customer a `requireCustomer` route is running for. */
export function signedIn(request: FastifyRequest): string {
  const customer = customerOf(request);
  if (customer === undefined) throw new Error('route without requireCustomer');
  return customer;
}

/** Requests that passed `requireCustomer`: their token is still to be checked for revocation. */
const toCheck = new WeakSet<FastifyRequest>();

const refuseToken = (reply: FastifyReply) => {
  reply.header('www-authenticate', `${REALM}, error="invalid_token"`);
  return new HttpError(401, ErrorCode.unauthorized, 'the bearer token is invalid, expired or revoked');
};

/**
 * preParsing, on every route that needs a customer: 401 unauthorized with `WWW-Authenticate:
 * Bearer` (RFC 6750) when the token is missing, malformed, forged or expired. It runs after the
 * rate limit (so guessing tokens is limited too) and before the body is read or validated.
 */
export async function requireCustomer(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const identity = identities.get(request) ?? { problem: 'missing' };
  if ('customer' in identity) {
    toCheck.add(request);
    return;
  }
  if (identity.problem === 'missing') {
    reply.header('www-authenticate', REALM);
    throw new HttpError(401, ErrorCode.unauthorized, 'this needs a bearer token: POST /auth/token');
  }
  throw refuseToken(reply);
}

/**
 * preHandler, for every API route: on those that need a customer, 401 unauthorized for a token
 * revoked since it was issued (signed out, password changed: revocation.ts). After validation, so
 * that bad input is refused without asking anyone.
 */
export async function refuseRevoked(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (!toCheck.has(request)) return;
  const identity = identities.get(request);
  if (!identity || !('customer' in identity)) return;
  if (await identity.versions.valid(identity.customer, identity.version)) return;
  identities.set(request, { problem: 'invalid' });
  throw refuseToken(reply);
}
