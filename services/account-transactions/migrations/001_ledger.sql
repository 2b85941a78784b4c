-- The ledger. accounts: a customer's trading account and its owner.
-- journal_entries: one movement (opening balance, reserve, release, settle), for one customer account
-- and, except openings, one order. postings: its legs, a signed amount of one asset (CASH in cents or a
-- symbol in shares) on one ledger account (`<account>:available`, `<account>:reserved`, `exchange`,
-- `fees`, `equity`); an entry's postings sum to zero per asset, checked at commit. The journal is
-- append-only. balances: the customer buckets the postings add up to, kept in the same transaction
-- and never negative, so a hold can never overdraw an account.
CREATE TABLE accounts (
  account_id text PRIMARY KEY,
  owner text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_owner ON accounts (owner);

CREATE TABLE journal_entries (
  id bigserial PRIMARY KEY,
  account_id text NOT NULL REFERENCES accounts,
  order_id uuid,
  kind text NOT NULL CHECK (kind IN ('opening', 'reserve', 'release', 'settle')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX journal_entries_account ON journal_entries (account_id);
CREATE INDEX journal_entries_order ON journal_entries (order_id);

CREATE TABLE postings (
  id bigserial PRIMARY KEY,
  entry_id bigint NOT NULL REFERENCES journal_entries,
  ledger_account text NOT NULL,
  asset text NOT NULL,
  amount bigint NOT NULL CHECK (amount <> 0)
);
CREATE INDEX postings_entry ON postings (entry_id);
CREATE INDEX postings_ledger_account ON postings (ledger_account, asset);

CREATE TABLE balances (
  account_id text NOT NULL REFERENCES accounts,
  asset text NOT NULL,
  available bigint NOT NULL DEFAULT 0,
  reserved bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, asset),
  CHECK (available >= 0 AND reserved >= 0)
);

-- Deferred to commit, so an entry's postings can be inserted in any order.
CREATE FUNCTION check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM postings WHERE entry_id = NEW.entry_id GROUP BY asset HAVING sum(amount) <> 0) THEN
    RAISE EXCEPTION 'journal entry % does not sum to zero per asset', NEW.entry_id;
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_entry_balanced();

-- A ledger is corrected with new entries, never by editing old ones.
CREATE FUNCTION refuse_journal_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the journal is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_change();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
  FOR EACH ROW EXECUTE FUNCTION refuse_journal_change();
