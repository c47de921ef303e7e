#!/usr/bin/env bash
# The deploy connector's blue/green test setup (tests/servers/deploy.py): nginx and Prometheus from Debian.
# supervisord comes from the venv (dev dependency supervisor 4.3.0). Installs only what is missing;
# `apt-get update` runs only then.
set -euo pipefail

need=()
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -x /usr/bin/prometheus ] || need+=(prometheus)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing system packages for the deploy tests: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
