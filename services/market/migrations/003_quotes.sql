-- The latest price of each symbol, so a restarted market has quotes before its first poll.
CREATE TABLE quotes (
  symbol text PRIMARY KEY,
  price_cents bigint NOT NULL CHECK (price_cents >= 0),
  quoted_at timestamptz NOT NULL
);
