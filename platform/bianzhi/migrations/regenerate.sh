#!/usr/bin/env bash
# Until the first release lands on a real database, the schema is one initial migration,
# regenerated from the models. (After that: `flask db migrate -m "why"` adds a revision.)
# Serialized with flock so that two developers regenerating at once do not interleave.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec 9>/tmp/bianzhi-migration.lock
flock 9
tmp=$(mktemp -d)
rm -f platform/bianzhi/migrations/versions/*.py
DATABASE_URL="sqlite:///$tmp/regen.sqlite3" .venv/bin/flask --app bianzhi db migrate \
  -m "initial schema: accounts, ledger, processes, cases, notices, audit" >/dev/null 2>&1 \
  || { echo "regenerate: flask db migrate failed" >&2; exit 1; }
rm -rf "$tmp"
ls platform/bianzhi/migrations/versions/
