-- customers: who may sign in, and the accounts they own are accounts.owner = customers.username.
-- password_hash is scrypt with a per-customer salt (src/passwords.ts). No foreign key from
-- accounts.owner: accounts opened for tests and load runs may name an owner who never signs in.
CREATE TABLE customers (
  username text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9_.-]{1,64}$'),
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The demo customers of 003, with their demo passwords (README): alice-password, bob-password,
-- carol-password. Demo data: a real deployment removes or changes them.
INSERT INTO customers (username, password_hash) VALUES
  ('alice', 'scrypt$15$8$1$iB8DqnEE1hkSLp7kfQE7pg==$K+wyCDY+B4wACQzDFO7NViGcqioz1jyXKJGUaK1i760='),
  ('bob', 'scrypt$15$8$1$ndqdwfp23MtEajyWFHsx9w==$LT62z2CNaIVNOHQ1TYK28CU/x34+94VDlv4E/8hZgg4='),
  ('carol', 'scrypt$15$8$1$/cgXyWRcNZCCObfmyd7xDA==$Fsq6BgODOFzdRf6+LHuCZj01lQ3eDYo8U3I5SFr+uWU=');
