-- One row per order: the fee booked against it (T3) and its refund (C3).
-- 'void' is a tombstone: the order failed before it was charged, so a late OrderCreated charges nothing.
CREATE TABLE charges (
  order_id uuid PRIMARY KEY,
  account_id text NOT NULL,
  fee_cents bigint NOT NULL CHECK (fee_cents >= 0),
  status text NOT NULL CHECK (status IN ('charged', 'refunded', 'declined', 'void')),
  reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
