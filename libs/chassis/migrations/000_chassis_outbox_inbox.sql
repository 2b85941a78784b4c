-- The chassis' own tables, applied before a service's migrations.

-- Events committed with the state change that caused them; the relay publishes and deletes them.
CREATE TABLE IF NOT EXISTS outbox (
  id bigserial PRIMARY KEY,
  message_id uuid NOT NULL UNIQUE,
  exchange text NOT NULL,
  routing_key text NOT NULL,
  type text NOT NULL,
  correlation_id text NOT NULL,
  traceparent text,
  body jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Messages already handled, per handler: a redelivery finds its row and is acked without effect.
CREATE TABLE IF NOT EXISTS inbox (
  handler text NOT NULL,
  message_id text NOT NULL,
  handled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (handler, message_id)
);
