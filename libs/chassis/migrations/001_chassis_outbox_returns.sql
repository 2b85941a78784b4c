-- A saga event the broker returned (no queue bound to take it) is not sent: it stays in the
-- outbox, counted in `returns`, and is tried again from `relay_after` on, with growing pauses.
ALTER TABLE outbox
  ADD COLUMN IF NOT EXISTS returns integer NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS relay_after timestamptz;
