-- The demo customers (accounts, balances, journal_entries, postings; see 001): alice, bob and carol.
-- Each opening balance is a journal entry against equity; balances are then added up from it.
INSERT INTO accounts (account_id, owner) VALUES ('acc-alice', 'alice'), ('acc-bob', 'bob'), ('acc-carol', 'carol');

WITH holdings (account_id, asset, amount) AS (
  VALUES
    ('acc-alice', 'CASH', 1000000), ('acc-alice', 'ACME', 100), ('acc-alice', 'GLOBEX', 50),
    ('acc-bob', 'CASH', 5000000), ('acc-bob', 'INITECH', 200), ('acc-bob', 'ACME', 20),
    ('acc-carol', 'CASH', 100000)
),
entries AS (
  INSERT INTO journal_entries (account_id, kind)
  SELECT DISTINCT account_id, 'opening' FROM holdings
  RETURNING id, account_id
)
INSERT INTO postings (entry_id, ledger_account, asset, amount)
SELECT e.id, leg.ledger_account, h.asset, leg.sign * h.amount
FROM holdings h
JOIN entries e USING (account_id)
CROSS JOIN LATERAL (VALUES ('equity', -1), (h.account_id || ':available', 1)) AS leg (ledger_account, sign);

INSERT INTO balances (account_id, asset, available)
SELECT split_part(p.ledger_account, ':', 1), p.asset, sum(p.amount)
FROM postings p
WHERE p.ledger_account LIKE '%:available'
GROUP BY 1, 2;
