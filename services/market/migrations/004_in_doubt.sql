-- An attempt to place an order whose answer market never heard (a timeout, a lost connection, a
-- crash mid-call) may have reached the exchange: the placement is in doubt, and is never failed,
-- canceled or compensated until the exchange has said what became of it.
ALTER TABLE placements ADD COLUMN in_doubt boolean NOT NULL DEFAULT false;
-- The customer asked to cancel an order market could not end at once (in doubt, or placed): it is
-- withdrawn at the exchange first, and ends canceled, or executed if it had filled.
ALTER TABLE placements ADD COLUMN cancel_requested_at timestamptz;

-- next_attempt_at is now when the placement worker next acts on any open placement: an attempt,
-- a withdrawal, or a question to the exchange about a placed order it should have ended.
DROP INDEX placements_due;
CREATE INDEX placements_due ON placements (next_attempt_at) WHERE next_attempt_at IS NOT NULL;

-- A fill the exchange reports for an order our books had ended (failed, canceled or expired): the
-- customer did trade. Kept until an operator has corrected the account (prometheus/RUNBOOK.md, "TradeBreak").
CREATE TABLE trade_breaks (
  order_id uuid PRIMARY KEY,
  account_id text NOT NULL,
  placement_status text NOT NULL,
  exchange_order_id text NOT NULL,
  side text NOT NULL,
  symbol text NOT NULL,
  quantity integer NOT NULL,
  fill_price_cents bigint NOT NULL,
  detected_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  resolution text
);
