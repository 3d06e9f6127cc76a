#!/usr/bin/env bash
# Until the first release lands on a real database, the schema is one initial migration,
# regenerated from the models. (After that: `flask db migrate -m "why"` adds a revision.)
# Hand-written revisions (DDL the models cannot express, e.g. the documents' full-text index)
# are kept: they are moved aside while the initial one is regenerated, then put back with the
# down_revision that named the old initial revision rewritten to the new one.
# Serialized with flock so that two developers regenerating at once do not interleave.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec 9>/tmp/bianzhi-migration.lock
flock 9
versions=platform/bianzhi/migrations/versions
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
old=""
for f in "$versions"/*initial_schema*.py; do
  [ -e "$f" ] || continue
  old=$(sed -n "s/^revision = '\([0-9a-f]*\)'.*/\1/p" "$f")
  rm -f "$f"
done
mkdir "$tmp/kept"
for f in "$versions"/*.py; do
  [ -e "$f" ] && mv "$f" "$tmp/kept/"
done
restore_kept() { for f in "$tmp"/kept/*.py; do [ -e "$f" ] && mv "$f" "$versions/"; done; return 0; }
DATABASE_URL="sqlite:///$tmp/regen.sqlite3" .venv/bin/flask --app bianzhi db migrate \
  -m "initial schema: accounts, ledger, processes, cases, notices, audit" >/dev/null 2>&1 \
  || { restore_kept; echo "regenerate: flask db migrate failed" >&2; exit 1; }
new=$(sed -n "s/^revision = '\([0-9a-f]*\)'.*/\1/p" "$versions"/*initial_schema*.py)
for f in "$tmp"/kept/*.py; do
  [ -e "$f" ] || continue
  if [ -n "$old" ]; then
    sed -i "s/^down_revision = '$old'/down_revision = '$new'/" "$f"
  fi
  mv "$f" "$versions/"
done
ls "$versions"/
