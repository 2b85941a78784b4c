-- The exchange's book, kept across restarts: a real exchange does not forget the orders resting on it
-- when it is redeployed, and market's books are only as good as the exchange's memory.

-- Names this book's execution feed. It changes only when the book is lost (a new database), so a
-- consumer seeing a new epoch knows the feed restarted from 1 and must ask after its orders.
CREATE TABLE feed_epoch (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  epoch uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO feed_epoch DEFAULT VALUES;

CREATE SEQUENCE exchange_order_number;

-- One row per client_order_id the exchange has heard of. A withdrawal of an id the exchange never
-- took leaves a row too (status withdrawn, no terms): an order with that id arriving later, the
-- slow twin of an attempt its sender gave up on, is refused rather than taken.
CREATE TABLE exchange_orders (
  client_order_id text PRIMARY KEY,
  exchange_order_id text UNIQUE,
  side text CHECK (side IN ('buy', 'sell')),
  symbol text,
  quantity integer CHECK (quantity > 0),
  limit_price_cents bigint CHECK (limit_price_cents >= 0),
  status text NOT NULL CHECK (status IN ('open', 'filled', 'expired', 'withdrawn')),
  fill_price_cents bigint,
  placed_at timestamptz,
  -- fixed when the order is taken, from the faults then in force
  fillable_at timestamptz,
  expires_at timestamptz,
  ended_at timestamptz,
  CHECK ((status = 'filled') = (fill_price_cents IS NOT NULL)),
  CHECK (status = 'withdrawn' OR exchange_order_id IS NOT NULL)
);
CREATE INDEX exchange_orders_open ON exchange_orders (symbol) WHERE status = 'open';

-- The execution feed: every fill and every expiry, numbered from 1 without gaps. Only the matcher
-- appends, under an advisory lock, so a reader paging by seq never passes a row not yet committed.
CREATE TABLE executions (
  seq bigint PRIMARY KEY CHECK (seq > 0),
  client_order_id text NOT NULL UNIQUE REFERENCES exchange_orders,
  exchange_order_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('filled', 'expired')),
  price_cents bigint,
  CHECK ((kind = 'filled') = (price_cents IS NOT NULL))
);
