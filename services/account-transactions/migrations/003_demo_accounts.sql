-- Once the demo customers' accounts (alice, bob, carol). Demo data is no longer a migration, which
-- runs everywhere, production included: account-transactions writes it at start when DEMO_DATA=true
-- (src/demo.ts). This file stays, empty, so that the migrations keep their names and order; a
-- database that applied the old one keeps those accounts, and a production start then refuses to
-- run while their customers have the published passwords (README, "Demo customers and accounts").
SELECT 1;
