#!/bin/bash
# First start of the compose stack's PostgreSQL (an empty data volume): one database and one role per
# service that keeps data, so no service can read another's tables (the database-per-service rule).
# The services would create their database themselves with a superuser's PGHOST_URL
# (libs/chassis/src/database.ts, ensureDatabase); here they get a DATABASE_URL with their own role
# and no right to create anything outside it. Runs as the image's postgres superuser.
set -euo pipefail
: "${SERVICE_DATABASES:=orders account_transactions fees market}"
: "${SERVICE_DB_PASSWORD:?set SERVICE_DB_PASSWORD}"
for service in ${SERVICE_DATABASES}; do
  echo "creating role ${service} and database simplebank_${service}"
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname postgres \
    -v role="${service}" -v password="${SERVICE_DB_PASSWORD}" -v database="simplebank_${service}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
done
