import { fail, type Outcome, ok } from './judge.ts';

// The oracles: for a generated request, the answer(s) the gateway must give, worked out the way
// its schemas and parsers read the request.

/** As a URL carries it: a lone surrogate cannot be percent-encoded, so it becomes U+FFFD. */
export const wellFormed = (text: string) => Buffer.from(text, 'utf8').toString('utf8');

export const SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA', 'HOOLI'];
export const BODY_LIMIT = 64 * 1024;

// Models of what the gateway accepts, from the schemas in libs/contracts/src/api.ts.

export const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const SYMBOL = /^(?!CASH$)[A-Z]{1,8}$/;
export const USERNAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const IDEMPOTENCY_KEY = /^[\x21-\x7E]{1,128}$/;
export const CURSOR = /^[A-Za-z0-9_-]{1,256}$/;
export const UUID_FORMAT = /^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i; // ajv-formats' uuid
export const codePoints = (text: string) => [...text].length;

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** True when JSON text holds a key fastify's parser (secure-json-parse) refuses: 400 malformed_json. */
export function hasForbiddenKeys(value: unknown): boolean {
  // iterative, as secure-json-parse is: bodies nest thousands deep
  const pending: unknown[] = [value];
  for (let node = pending.pop(); node !== undefined || pending.length > 0; node = pending.pop()) {
    if (typeof node !== 'object' || node === null) continue;
    if (!Array.isArray(node)) {
      if (Object.hasOwn(node, '__proto__')) return true;
      const ctor = (node as Record<string, unknown>).constructor;
      if (
        Object.hasOwn(node, 'constructor') &&
        typeof ctor === 'object' &&
        ctor !== null &&
        Object.hasOwn(ctor, 'prototype')
      )
        return true;
    }
    pending.push(...Object.values(node));
  }
  return false;
}

export const isQuantity = (value: unknown) =>
  typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 1_000_000;

/** A PlaceOrderRequest the schema accepts (no coercion of JSON bodies, no other fields). */
export function isPlaceOrder(
  value: unknown,
): value is { account_id: string; symbol: string; quantity: number } {
  if (!isObject(value)) return false;
  const keys = Object.keys(value).sort();
  return (
    keys.join() === 'account_id,quantity,symbol' &&
    typeof value.account_id === 'string' &&
    ACCOUNT_ID.test(value.account_id) &&
    typeof value.symbol === 'string' &&
    SYMBOL.test(value.symbol) &&
    isQuantity(value.quantity)
  );
}

/** How fastify reads a JSON body: utf-8 (bad bytes replaced), one BOM dropped, then parsed. */
export function readJson(body: string | Buffer): { parsed: true; value: unknown } | { parsed: false } {
  let text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return { parsed: false };
  try {
    const value: unknown = JSON.parse(text);
    return hasForbiddenKeys(value) ? { parsed: false } : { parsed: true, value };
  } catch {
    return { parsed: false };
  }
}

/**
 * What POST /shares/* answers a JSON body sent by the owner of `ownAccount`, without an
 * Idempotency-Key. The generators never make a body that would place an order (this throws).
 */
export function shareVerdict(body: string | Buffer, ownAccount: string): Outcome[] {
  if (Buffer.byteLength(body) > BODY_LIMIT) return [fail(413, 'payload_too_large')];
  const read = readJson(body);
  if (!read.parsed) return [fail(400, 'malformed_json')];
  if (!isPlaceOrder(read.value)) return [fail(400, 'validation_failed')];
  // an unknown symbol is reported before an unknown account
  if (!SYMBOLS.includes(read.value.symbol)) return [fail(422, 'unknown_symbol')];
  if (read.value.account_id !== ownAccount) return [fail(422, 'unknown_account')];
  throw new Error(`the generator made a valid order: ${JSON.stringify(read.value)}`);
}

/** Ajv with coerceTypes on a query-string integer: `x && x == +x`, then integer and range. */
export function queryInteger(value: string | string[] | undefined, min: number, max: number): boolean {
  if (typeof value !== 'string' || value === '') return false;
  const number = Number(value);
  return !Number.isNaN(number) && Number.isInteger(number) && number >= min && number <= max;
}

export type Params = [string, string][];
/** The query string's values, a repeated name as an array (as fastify parses it). */
export function queryValues(params: Params): Map<string, string | string[]> {
  const values = new Map<string, string | string[]>();
  for (const [name, value] of params) {
    const before = values.get(name);
    values.set(name, before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value]);
  }
  return values;
}
export const wellFormedParams = (params: Params): Params =>
  params.map(([name, value]) => [wellFormed(name), wellFormed(value)]);
export const queryText = (params: Params) =>
  params.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&');

export const isText = (value: string | string[] | undefined): value is string => typeof value === 'string';

export function feeVerdict(params: Params): Outcome[] {
  const values = queryValues(params);
  const side = values.get('side');
  const symbol = values.get('symbol');
  const valid =
    [...values.keys()].every((name) => ['side', 'symbol', 'quantity'].includes(name)) &&
    isText(side) &&
    (side === 'sell' || side === 'buy') &&
    isText(symbol) &&
    SYMBOL.test(symbol) &&
    queryInteger(values.get('quantity'), 1, 1_000_000);
  if (!valid) return [fail(400, 'validation_failed')];
  return SYMBOLS.includes(symbol) ? [ok()] : [fail(422, 'unknown_symbol')];
}

/** orders' cursor check (services/orders/src/domain/cursor.ts): only the canonical text of a position. */
export function isCanonicalCursor(cursor: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return false;
  }
  if (!Array.isArray(value) || value.length !== 2) return false;
  const [at, orderId] = value as unknown[];
  if (typeof at !== 'string' || typeof orderId !== 'string') return false;
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(orderId)) return false;
  const createdAt = new Date(at);
  const year = createdAt.getUTCFullYear();
  if (Number.isNaN(createdAt.getTime()) || year < 2000 || year > 9999) return false;
  return Buffer.from(JSON.stringify([createdAt.toISOString(), orderId])).toString('base64url') === cursor;
}

export function ordersVerdict(params: Params, ownAccount: string): Outcome[] {
  const values = queryValues(params);
  const accountId = values.get('account_id');
  const cursor = values.get('cursor');
  const valid =
    [...values.keys()].every((name) => ['account_id', 'limit', 'cursor'].includes(name)) &&
    isText(accountId) &&
    ACCOUNT_ID.test(accountId) &&
    (!values.has('limit') || queryInteger(values.get('limit'), 1, 100)) &&
    (cursor === undefined || (isText(cursor) && CURSOR.test(cursor)));
  if (!valid) return [fail(400, 'validation_failed')];
  if (accountId !== ownAccount) return [fail(404, 'unknown_account')];
  if (cursor === undefined || isCanonicalCursor(cursor)) return [ok()];
  return [fail(400, 'validation_failed')];
}
