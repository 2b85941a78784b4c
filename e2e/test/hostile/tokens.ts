import { createHmac, randomUUID } from 'node:crypto';

// Forging tokens: good, expired, badly signed and malformed JWTs, signed here as the gateway would.

/** The e2e gateway runs without JWT_SECRET, so it signs with the development default. */
export const JWT_SECRET = process.env.JWT_SECRET ?? 'simplebank-development-secret-do-not-use-in-production';
export const ISSUER = 'simplebank-gateway';
export const AUDIENCE = 'simplebank-api';

// Tokens, signed here (HS256 and friends by hand, so that any header and claims can be forged).

export const base64url = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export function signToken(header: object, claims: object, secret = JWT_SECRET, hash = 'sha256'): string {
  const signed = `${base64url(header)}.${base64url(claims)}`;
  return `${signed}.${createHmac(hash, secret).update(signed).digest('base64url')}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
export const goodClaims = (sub: string) => ({
  sub,
  iss: ISSUER,
  aud: AUDIENCE,
  iat: nowSeconds(),
  exp: nowSeconds() + 600,
  jti: randomUUID(),
});

/** Characters node:http lets through in a header value. */
export const HEADER_SAFE = /^[\t\x20-\x7e\x80-\xff]*$/;
