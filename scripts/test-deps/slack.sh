#!/usr/bin/env bash
# The Slack emulator the Slack connector tests start (tests/servers/slack_emulator): emulate 0.9.0 and its
# dependencies at the exact versions and integrity hashes of its package-lock.json (`npm ci`), installed
# only when the lockfile changed since the last install. Needs Node.js 20 and npm (install-test-deps.sh
# installs them); emulate 0.12 and later need Node 22, hence the pin.
set -euo pipefail

emulator="$(dirname "$0")/../../tests/servers/slack_emulator"
if ! cmp -s "$emulator/package-lock.json" "$emulator/node_modules/.meshclaw-installed-lock"; then
  echo "installing the Slack emulator (npm ci in tests/servers/slack_emulator)"
  (cd "$emulator" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$emulator/package-lock.json" "$emulator/node_modules/.meshclaw-installed-lock"
fi
