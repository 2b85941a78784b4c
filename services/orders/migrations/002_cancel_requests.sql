-- When the customer asked to cancel the order (RPC `cancel`), if ever. The status stays `created`
-- until market answers with OrderFailed canceled_by_customer (or places the order after all); the
-- column makes a second cancel a no-op that publishes nothing.
ALTER TABLE orders ADD COLUMN cancel_requested_at timestamptz;
