-- One row per customer order (T1), moved forward by market's events (T5, C1, fill, expiry).
CREATE TABLE orders (
  order_id uuid PRIMARY KEY,
  account_id text NOT NULL,
  side text NOT NULL CHECK (side IN ('sell', 'buy')),
  symbol text NOT NULL,
  quantity integer NOT NULL CHECK (quantity > 0),
  limit_price_cents bigint NOT NULL CHECK (limit_price_cents >= 0),
  max_fee_cents bigint NOT NULL CHECK (max_fee_cents >= 0),
  status text NOT NULL CHECK (status IN ('created', 'placed', 'executed', 'failed', 'canceled', 'expired')),
  fee_cents bigint CHECK (fee_cents >= 0),
  fill_price_cents bigint CHECK (fill_price_cents >= 0),
  reason text,
  exchange_order_id text,
  -- Milliseconds, so the ISO timestamp the API shows (and a page cursor holds) is exactly what is stored.
  created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- An account's orders, newest first (GET /orders?account_id=).
CREATE INDEX orders_by_account ON orders (account_id, created_at DESC, order_id DESC);

-- Every status an order reached, once each; `at` is when it happened (the event's occurredAt).
CREATE TABLE order_history (
  id bigserial PRIMARY KEY,
  order_id uuid NOT NULL REFERENCES orders (order_id),
  status text NOT NULL,
  reason text,
  at timestamptz NOT NULL,
  UNIQUE (order_id, status)
);
