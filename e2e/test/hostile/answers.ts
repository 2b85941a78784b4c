// The documented answers, per generator. A request's own oracle picks the exact answer(s) from
// its row; the check also makes sure the answer is in the row.

export type Category =
  | 'body: wrong types and values'
  | 'body: raw and malformed JSON text'
  | 'body: unknown symbol or not own account'
  | 'body: oversized'
  | 'body: wrong content type'
  | 'query: GET /fees/estimate'
  | 'query: GET /orders'
  | 'query: GET /orders forged cursor'
  | 'path: /orders/{id}, /accounts/{id}, wrong routes'
  | 'path: malformed percent-encoding'
  | 'path: segment over 100 characters'
  | 'token: missing, garbage, forged'
  | 'idempotency: replayed keys'
  | 'idempotency: invalid keys'
  | 'body: POST /auth/token'
  | 'header: x-deadline';

export const TABLE: Record<Category, string[]> = {
  'body: wrong types and values': ['400 validation_failed', '400 malformed_json'],
  'body: raw and malformed JSON text': [
    '400 malformed_json',
    '400 validation_failed',
    '422 unknown_account',
    '422 unknown_symbol',
  ],
  'body: unknown symbol or not own account': ['422 unknown_symbol', '422 unknown_account'],
  'body: oversized': ['413 payload_too_large'],
  'body: wrong content type': ['415 unsupported_media_type', '400 validation_failed'],
  'query: GET /fees/estimate': ['400 validation_failed', '422 unknown_symbol', '200'],
  'query: GET /orders': ['400 validation_failed', '404 unknown_account', '200'],
  'query: GET /orders forged cursor': ['400 validation_failed', '200'],
  'path: /orders/{id}, /accounts/{id}, wrong routes': [
    '400 validation_failed',
    '404 not_found',
    '404 order_not_found',
    '404 unknown_account',
    '409 order_not_cancelable',
    '200',
  ],
  'path: malformed percent-encoding': ['400 malformed_url', '400 validation_failed', '404 not_found'],
  'path: segment over 100 characters': ['400 validation_failed', '404 not_found'],
  'token: missing, garbage, forged': ['401 unauthorized'],
  'idempotency: replayed keys': ['422 idempotency_key_reused', '422 unknown_account', '202'],
  'idempotency: invalid keys': ['400 validation_failed'],
  'body: POST /auth/token': ['400 validation_failed', '400 malformed_json', '401 invalid_credentials'],
  'header: x-deadline': ['200'],
};
