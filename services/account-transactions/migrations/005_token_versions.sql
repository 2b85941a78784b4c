-- Revocation: the gateway puts a customer's token_version into each token it issues and refuses
-- tokens of an older version. Signing out and changing the password raise it, ending every token.
ALTER TABLE customers ADD COLUMN token_version integer NOT NULL DEFAULT 0;
