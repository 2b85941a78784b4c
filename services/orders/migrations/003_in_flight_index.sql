-- Orders not yet terminal, for the saga_orders_in_flight gauge counted at each scrape: the index
-- holds only created and placed orders, so the count stays cheap however many orders ended.
CREATE INDEX orders_in_flight ON orders (created_at) WHERE status IN ('created', 'placed');
