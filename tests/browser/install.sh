#!/usr/bin/env bash
# Installs the browser tests' npm packages (jssip, playwright-core) from
# package-lock.json into tests/browser/node_modules. Idempotent: does
# nothing when node_modules already matches the lock file. Never downloads
# a browser: the tests drive Debian's chromium (/usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")"

for cmd in node npm; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "tests/browser/install.sh: '$cmd' not found: install Node.js 20+ with npm (package nodejs; scripts/test-deps.sh does)" >&2
    exit 1
  fi
done
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "tests/browser/install.sh: Node.js $(node --version) is too old: playwright-core needs Node.js 20+" >&2
  exit 1
fi

stamp=node_modules/.tandem-lock.sha256
want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
  [ -f node_modules/jssip/package.json ] && [ -f node_modules/playwright-core/package.json ]; then
  exit 0
fi

echo "tests/browser: npm ci (jssip, playwright-core)" >&2
# playwright-core has no install script, but make sure nothing tries to
# fetch a browser build.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent
echo "$want" >"$stamp"
