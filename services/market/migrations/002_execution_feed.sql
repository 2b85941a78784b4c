-- Where market is in the exchange's execution feed. One row; a new epoch means the exchange restarted
-- and numbers its executions from 1 again.
CREATE TABLE execution_feed (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  epoch text,
  after_seq bigint NOT NULL DEFAULT 0 CHECK (after_seq >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO execution_feed DEFAULT VALUES;
