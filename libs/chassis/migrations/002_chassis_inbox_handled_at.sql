-- The retention worker deletes inbox rows older than INBOX_RETENTION_HOURS, oldest first, in
-- batches: without this index each batch would read the whole table.
CREATE INDEX IF NOT EXISTS inbox_handled_at ON inbox (handled_at);
