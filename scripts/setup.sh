#!/usr/bin/env bash
# `npm run setup`: everything a fresh machine needs to build, test and run walduck, and nothing more.
# Idempotent: each step checks first, so a second run takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

# 1. The wal2json output plugin for every PostgreSQL server version installed here (Debian layout).
#    The server binaries themselves are the machine's business: we say what is missing.
majors=$(ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' || true)
if [ -z "$majors" ]; then
  say "no PostgreSQL server binaries under /usr/lib/postgresql: install postgresql-15 (apt-get install -y postgresql-15) to run the tests and the demo"
fi
missing=()
for v in $majors; do
  [ -f "/usr/lib/postgresql/$v/lib/wal2json.so" ] || missing+=("postgresql-$v-wal2json")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
    say "installing ${missing[*]} with sudo"
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "the wal2json plugin is missing: install the package ${missing[*]} (or build wal2json for your PostgreSQL) and run setup again"
    exit 1
  fi
else
  say "wal2json present for PostgreSQL ${majors:-none}"
fi
command -v openssl >/dev/null || say "openssl not found: the test cluster's TLS certificate needs it (apt-get install -y openssl)"

# 2. Node packages, exactly as locked. Skipped when node_modules already matches the lock file.
stamp=node_modules/.walduck-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "node_modules matches package-lock.json"
else
  say "npm ci"
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
fi

# 3. Compile TypeScript to dist/ (Node 20 does not run .ts); bin/walduck.js runs dist/.
npm run -s build
say "done: try \`npm test\`, or \`node bin/walduck.js demo\`"
