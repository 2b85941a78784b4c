-- customers: who may sign in, and the accounts they own are accounts.owner = customers.username.
-- password_hash is scrypt with a per-customer salt (src/passwords.ts). No foreign key from
-- accounts.owner: accounts opened for tests and load runs may name an owner who never signs in.
CREATE TABLE customers (
  username text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9_.-]{1,64}$'),
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The demo customers (alice, bob, carol) were inserted here once; they are demo data now, written
-- at start only when DEMO_DATA=true (src/demo.ts, and 003's note).
