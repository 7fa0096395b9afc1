#!/usr/bin/env bash
# Start (installing if needed) a local PostgreSQL server for the shared-search test, and print the
# SQLAlchemy URL of a fresh test database. Debian only; run as root. Used by .ci/run.
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
read -r version cluster port _ < <(pg_lsclusters -h | head -n 1)
pg_ctlcluster "$version" "$cluster" start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do
  su postgres -c "psql -p $port -tAc 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
su postgres -c "psql -p $port -q" >/dev/null 2>&1 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'finetune') THEN
    CREATE ROLE finetune LOGIN PASSWORD 'finetune';
  END IF;
END \$\$;
DROP DATABASE IF EXISTS finetune_search_test;
CREATE DATABASE finetune_search_test OWNER finetune;
SQL
echo "postgresql+psycopg://finetune:finetune@127.0.0.1:${port}/finetune_search_test"
