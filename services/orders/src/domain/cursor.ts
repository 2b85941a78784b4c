import { UUID } from '@simplebank/contracts';

/**
 * Where a page of an account's orders ends: the last order's (created_at, order_id), the key the
 * list is sorted on. Two orders can share a millisecond; the order id tells them apart, so no
 * order is lost or repeated between pages.
 */
export interface PagePosition {
  createdAt: Date;
  orderId: string;
}

/** The opaque text customers send back: base64url of `["<created_at ISO>", "<order_id>"]`. */
export function encodeCursor({ createdAt, orderId }: PagePosition): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), orderId])).toString('base64url');
}

/** The position a cursor names; undefined for anything `encodeCursor` did not make. */
export function decodeCursor(cursor: string): PagePosition | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [at, orderId] = value as unknown[];
  if (typeof at !== 'string' || typeof orderId !== 'string' || !UUID.test(orderId)) return undefined;
  const createdAt = new Date(at);
  // Orders are made now: a cursor outside 2000–9999 was not made by us (and PostgreSQL cannot
  // compare dates before 4713 BC, so it would be a 500, not a 400).
  const year = createdAt.getUTCFullYear();
  if (Number.isNaN(createdAt.getTime()) || year < 2000 || year > 9999) return undefined;
  const position = { createdAt, orderId };
  // Only the canonical text: base64url decoding skips stray characters, JSON allows other spellings.
  return encodeCursor(position) === cursor ? position : undefined;
}
