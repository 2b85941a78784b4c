-- One row per order (T4): filled in as OrderCreated, PositionReserved and FeeCharged arrive, in any
-- order, then carried through placement on the exchange to its outcome.
CREATE TABLE placements (
  order_id uuid PRIMARY KEY,
  account_id text NOT NULL,
  status text NOT NULL DEFAULT 'waiting'
    CHECK (status IN ('waiting', 'ready', 'placed', 'executed', 'expired', 'failed', 'canceled')),
  -- why it failed: the failed prerequisite's reason, exchange_rejected, exchange_unavailable, canceled_by_customer
  reason text,
  -- from OrderCreated; null until it arrives
  side text CHECK (side IN ('sell', 'buy')),
  symbol text,
  quantity integer CHECK (quantity > 0),
  limit_price_cents bigint CHECK (limit_price_cents >= 0),
  -- from PositionReserved
  position_reserved boolean NOT NULL DEFAULT false,
  -- from FeeCharged; null until it arrives
  fee_cents bigint CHECK (fee_cents >= 0),
  -- placement on the exchange: the deadline runs from ready_at; failed attempts back off
  ready_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_error text,
  exchange_order_id text,
  fill_price_cents bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The placement worker's queue: ready orders by when they are next due.
CREATE INDEX placements_due ON placements (next_attempt_at) WHERE status = 'ready';
