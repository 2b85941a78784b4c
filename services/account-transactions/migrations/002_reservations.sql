-- reservations: one row per order, what T2 holds for it and what became of the hold.
-- held → released (C2: OrderFailed / OrderExpired) or settled (TradeExecuted); declined: T2 refused
-- it (reason says why) and nothing was held; void: a tombstone, the order failed or expired before
-- its OrderCreated arrived, so a late OrderCreated holds nothing. Side and symbol are unknown for a
-- tombstone. No foreign key to accounts: an order may name an account that does not exist.
CREATE TABLE reservations (
  order_id uuid PRIMARY KEY,
  account_id text NOT NULL,
  side text CHECK (side IN ('sell', 'buy')),
  symbol text,
  shares bigint NOT NULL DEFAULT 0 CHECK (shares >= 0),
  cash_cents bigint NOT NULL DEFAULT 0 CHECK (cash_cents >= 0),
  status text NOT NULL CHECK (status IN ('held', 'released', 'settled', 'declined', 'void')),
  reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (status = 'void' OR (side IS NOT NULL AND symbol IS NOT NULL))
);
CREATE INDEX reservations_account ON reservations (account_id);
