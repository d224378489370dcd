#!/usr/bin/env bash
# web.sh — fetch the npm build-time packages and vendor the /docs renderer.
# Called by `make` (target `web`).  Runs `npm ci` only when node_modules is
# missing or older than package-lock.json, so a ready tree costs nothing; then
# copies redoc's standalone bundle to web/vendor/ (gitignored), from where kefu
# serves it as /static/vendor/redoc.standalone.js — the /docs page uses no CDN.
set -euo pipefail

cd "${BASH_SOURCE[0]%/*}/.."
lock=package-lock.json
stamp=node_modules/.package-lock.json   # written by npm itself on every install
bundle=node_modules/redoc/bundles/redoc.standalone.js
dest=web/vendor/redoc.standalone.js

die() { echo "web.sh: $*" >&2; exit 1; }

[ -f "$lock" ] || die "$lock is missing; it pins the npm packages (run 'npm install' once to create it)"

if [ ! -d node_modules ] || [ ! -e "$stamp" ] || [ "$lock" -nt "$stamp" ] || [ ! -f "$bundle" ]; then
  command -v npm >/dev/null 2>&1 ||
    die "npm not found; install Node.js and npm (Debian: apt-get install nodejs npm, or run scripts/deps.sh test)"
  echo "web.sh: installing npm packages from $lock (npm ci)" >&2
  if ! npm ci --no-audit --no-fund --loglevel=error >&2; then
    die "npm ci failed — is the npm registry reachable ($(npm config get registry 2>/dev/null || echo '?'))? See the npm output above."
  fi
  # npm may write the stamp before it finishes; make it newer than the lock
  # so the next `make` does not install again.
  touch "$stamp"
fi

[ -f "$bundle" ] || die "$bundle not found after npm ci; does package.json still depend on redoc?"
mkdir -p web/vendor
if ! cmp -s "$bundle" "$dest"; then
  cp "$bundle" "$dest.tmp.$$" && mv -f "$dest.tmp.$$" "$dest"
  echo "web.sh: vendored $dest" >&2
fi
