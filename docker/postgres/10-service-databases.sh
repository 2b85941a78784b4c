#!/bin/bash
# First start of the compose stack's PostgreSQL (an empty data volume): one database and one role per
# service that keeps data, so no service can read another's tables (the database-per-service rule).
# The services would create their database themselves with a superuser's PGHOST_URL
# (libs/chassis/src/database.ts, ensureDatabase); here they get a DATABASE_URL with their own role
# and no right to create anything outside it. Runs as the image's postgres superuser.
#
# PostgreSQL runs this directory only when it initialises an empty data directory. For a volume
# made before a service got its database, run it again: it creates only what is missing.
#   docker compose exec postgres /docker-entrypoint-initdb.d/10-service-databases.sh
#   kubectl -n simplebank exec postgres-0 -- /docker-entrypoint-initdb.d/10-service-databases.sh
set -euo pipefail
: "${SERVICE_DATABASES:=orders account_transactions fees market stock_exchange}"
: "${SERVICE_DB_PASSWORD:?set SERVICE_DB_PASSWORD}"
for service in ${SERVICE_DATABASES}; do
  echo "role ${service} and database simplebank_${service}"
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v role="${service}" -v password="${SERVICE_DB_PASSWORD}" -v database="simplebank_${service}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
done
