import { type Static, Type } from 'typebox';

// The gateway's public HTTP API: snake_case fields, money as exact decimal strings.
const strict = { additionalProperties: false } as const;
const Decimal = Type.String({ pattern: '^-?\\d+\\.\\d{2}$', examples: ['12.34'] });
const Timestamp = Type.String({ format: 'date-time' });

export const OrderSide = Type.Union([Type.Literal('sell'), Type.Literal('buy')]);
export const OrderStatus = Type.Union([
  Type.Literal('created'),
  Type.Literal('placed'),
  Type.Literal('executed'),
  Type.Literal('failed'),
  Type.Literal('canceled'),
  Type.Literal('expired'),
]);
export type OrderStatus = Static<typeof OrderStatus>;
export type OrderSide = Static<typeof OrderSide>;

export const AccountIdParam = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
/** A share's symbol, everywhere: 1–8 capitals; CASH is the ledger's name for money, never a symbol. */
export const SymbolParam = Type.String({ minLength: 1, maxLength: 8, pattern: '^(?!CASH$)[A-Z]{1,8}$' });
/** A UUID in its text form (order ids), for what a schema's `format: 'uuid'` does not check. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const QuantityParam = Type.Integer({ minimum: 1, maximum: 1_000_000 });

export const PlaceOrderRequest = Type.Object(
  { account_id: AccountIdParam, symbol: SymbolParam, quantity: QuantityParam },
  strict,
);
export type PlaceOrderRequest = Static<typeof PlaceOrderRequest>;

export const OrderAccepted = Type.Object({
  order_id: Type.String({ format: 'uuid' }),
  status: Type.Literal('created'),
});
export type OrderAccepted = Static<typeof OrderAccepted>;

export const OrderIdParams = Type.Object(
  { order_id: Type.String({ format: 'uuid', maxLength: 36 }) },
  strict,
);
export const AccountIdParams = Type.Object({ account_id: AccountIdParam }, strict);

export const StatusChange = Type.Object({
  status: OrderStatus,
  at: Timestamp,
  reason: Type.Optional(Type.String()),
});

export const Order = Type.Object({
  order_id: Type.String({ format: 'uuid' }),
  account_id: Type.String(),
  side: OrderSide,
  symbol: Type.String(),
  quantity: Type.Integer(),
  status: OrderStatus,
  limit_price: Decimal,
  fee: Type.Union([Decimal, Type.Null()]),
  fill_price: Type.Union([Decimal, Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
  history: Type.Array(StatusChange),
});
export type Order = Static<typeof Order>;

export const OrdersQuery = Type.Object(
  {
    account_id: AccountIdParam,
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    /** Paging: the previous page's `next_cursor`, as it came (opaque). */
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  strict,
);
export type OrdersQuery = Static<typeof OrdersQuery>;
export const OrderList = Type.Object({
  orders: Type.Array(Order),
  /** The `cursor` of the next page; null on the last page. */
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});
export type OrderList = Static<typeof OrderList>;

export const Position = Type.Object({
  symbol: Type.String(),
  quantity: Type.Integer(),
  reserved: Type.Integer(),
  current_value: Type.Union([Decimal, Type.Null()]),
});

export const Account = Type.Object({
  account_id: Type.String(),
  owner: Type.String(),
  cash: Type.Object({ available: Decimal, reserved: Decimal }),
  positions: Type.Array(Position),
});
export type Account = Static<typeof Account>;

export const Quote = Type.Object({
  symbol: Type.String(),
  price: Decimal,
  at: Timestamp,
  /** True when the gateway answers with the last known price because market is unavailable. */
  stale: Type.Optional(Type.Boolean()),
});
export const Quotes = Type.Object({ quotes: Type.Array(Quote) });
export type Quote = Static<typeof Quote>;
export type Quotes = Static<typeof Quotes>;

export const FeeEstimateQuery = Type.Object(
  { side: OrderSide, symbol: SymbolParam, quantity: QuantityParam },
  strict,
);
export type FeeEstimateQuery = Static<typeof FeeEstimateQuery>;
export const FeeEstimate = Type.Object({
  side: OrderSide,
  symbol: Type.String(),
  quantity: Type.Integer(),
  price: Decimal,
  value: Decimal,
  fee: Decimal,
});
export type FeeEstimate = Static<typeof FeeEstimate>;

export const AccountList = Type.Object({ accounts: Type.Array(Account) });
export type AccountList = Static<typeof AccountList>;

// Customers and their tokens. Usernames are plain ASCII (they end up in tokens, logs and keys);
// passwords are bounded so that hashing one costs a known amount.
export const Username = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });
/** A password as sent to sign in: any text up to 128 characters. */
export const Password = Type.String({ minLength: 1, maxLength: 128 });
/** A new customer's password: at least 8 characters. */
export const NewPassword = Type.String({ minLength: 8, maxLength: 128 });

/** `POST /auth/token`: a customer's credentials. */
export const TokenRequest = Type.Object({ username: Username, password: Password }, strict);
export type TokenRequest = Static<typeof TokenRequest>;
/** `PUT /auth/password`: the current password and the new one; every token issued before ends. */
export const PasswordChange = Type.Object({ old_password: Password, new_password: NewPassword }, strict);
export type PasswordChange = Static<typeof PasswordChange>;
/** A bearer token (a JWT whose `sub` is the username) and how many seconds it lasts. */
export const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ minimum: 1 }),
});
export type TokenResponse = Static<typeof TokenResponse>;

/** `Idempotency-Key` on `POST /shares/*`: printable ASCII, at most 128 characters (a UUID will do). */
export const IdempotencyKey = Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7E]+$' });
/** Headers of `POST /shares/*`; any other header is allowed (this is not a strict object). */
export const PlaceOrderHeaders = Type.Object({ 'idempotency-key': Type.Optional(IdempotencyKey) });

/** `DELETE /orders/{order_id}` accepted: orders asked the saga to stop the order. */
export const CancelAccepted = Type.Object({
  order_id: Type.String({ format: 'uuid' }),
  /** Its status now: a placed order is withdrawn at the exchange, or executes if it filled first. */
  status: Type.Union([Type.Literal('created'), Type.Literal('placed')]),
  cancel: Type.Literal('requested'),
});
export type CancelAccepted = Static<typeof CancelAccepted>;
/** `DELETE /orders/{order_id}` refused (409): the order is past the point it can be cancelled. */
export const CancelRefused = Type.Object({
  error: Type.Object({ code: Type.Literal('order_not_cancelable'), message: Type.String() }),
  status: OrderStatus,
});
export type CancelRefused = Static<typeof CancelRefused>;

/** Every 4xx/5xx body. `code` is machine-readable and stable. */
export const ErrorResponse = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});
export type ErrorResponse = Static<typeof ErrorResponse>;

export const ErrorCode = {
  validationFailed: 'validation_failed',
  malformedJson: 'malformed_json',
  malformedUrl: 'malformed_url',
  unsupportedMediaType: 'unsupported_media_type',
  payloadTooLarge: 'payload_too_large',
  notFound: 'not_found',
  unknownAccount: 'unknown_account',
  unknownSymbol: 'unknown_symbol',
  orderNotFound: 'order_not_found',
  accountExists: 'account_exists',
  customerExists: 'customer_exists',
  /** Wrong username or password; never says which. */
  invalidCredentials: 'invalid_credentials',
  /** No bearer token, or one that is malformed, forged or expired. */
  unauthorized: 'unauthorized',
  idempotencyKeyReused: 'idempotency_key_reused',
  requestInProgress: 'request_in_progress',
  orderNotCancelable: 'order_not_cancelable',
  rateLimited: 'rate_limited',
  /** The customer holds as many live streams as allowed already. */
  tooManyStreams: 'too_many_streams',
  serviceUnavailable: 'service_unavailable',
  /** A 4xx the framework raised that has no code of its own. */
  badRequest: 'bad_request',
  internal: 'internal_error',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What each error code means, and its HTTP status: the API documentation's table (docs/openapi.json). */
export const ErrorCodeDescription: Record<ErrorCode, string> = {
  validation_failed: '400: the request does not match the schema; the message names the field.',
  malformed_json: '400: the body is not JSON, or is empty where JSON is required.',
  malformed_url: '400: the URL is not valid percent-encoding.',
  unsupported_media_type: '415: the body is not application/json.',
  payload_too_large: '413: the body is over 64 KiB.',
  not_found: '404: no such route.',
  unknown_account: '404 (queries) or 422 (orders): no such account of the signed-in customer.',
  unknown_symbol: '422: the exchange has no quote for the symbol.',
  order_not_found: '404: no such order of the signed-in customer.',
  account_exists: '409: an account with that id exists already (account-transactions).',
  customer_exists: '409: a customer with that username exists already (account-transactions).',
  invalid_credentials: '401: wrong username or password (never says which).',
  unauthorized:
    '401: no bearer token, or one that is malformed, forged, expired or revoked (signed out, password changed; WWW-Authenticate).',
  idempotency_key_reused: '422: the Idempotency-Key was used before for a different request.',
  request_in_progress: '409: a request with the same Idempotency-Key is still being handled (Retry-After).',
  order_not_cancelable:
    '409: the order is past the point where it can be cancelled; the body has its status.',
  rate_limited: '429: too many requests in the window (Retry-After, RateLimit-* headers).',
  too_many_streams: '429: the customer has as many live streams open as allowed; close one first.',
  service_unavailable:
    '503: a service behind the gateway did not answer in time, or the gateway is overloaded (Retry-After).',
  bad_request: '400: another malformed request.',
  internal_error: '500: a fault of ours; the trace-id header finds it in Jaeger.',
};
