#!/usr/bin/env bash
# Installs the system packages the test suite starts as real servers or drives, only when missing,
# so running it again costs nothing. Needs root (or sudo) the first time.
set -euo pipefail

need=()
command -v chromium >/dev/null || need+=(chromium)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql)
command -v npm >/dev/null || need+=(nodejs npm)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing system packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The OpenID provider the OIDC tests run (tests/oidc/provider): exact versions and integrity hashes from its
# package-lock.json (`npm ci`), reinstalled only when the lockfile changed since the last install.
provider="$(dirname "$0")/../tests/oidc/provider"
if ! cmp -s "$provider/package-lock.json" "$provider/node_modules/.meshclaw-installed-lock"; then
  echo "installing the test OpenID provider (npm ci in tests/oidc/provider)"
  (cd "$provider" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$provider/package-lock.json" "$provider/node_modules/.meshclaw-installed-lock"
fi

# Each connector's real servers (tests/servers/*): one script per connector, each idempotent.
for part in "$(dirname "$0")"/test-deps/*.sh; do
  [ -e "$part" ] || continue
  bash "$part"
done
