#!/usr/bin/env bash
# Installs what bench/gateway/run.py needs, idempotently, outside the repository and its venv:
#   - wrk, from Debian (the closed-loop load tool; wrk2 is not packaged, run.py has its own fixed-rate client)
#   - LiteLLM 1.109.1's proxy in its own venv, $BENCH_DIR/venv (default /work/.bench-litellm/venv)
# LiteLLM's wheel pins dependencies this machine's index cannot meet, so its dependencies come pinned and
# hash-checked from litellm-requirements.txt (two substitutions, explained there) and the wheel itself is
# installed with --no-deps from litellm-wheel.txt, also hash-checked.
#
#   bench/gateway/install.sh            # BENCH_DIR=/somewhere and PYTHON=python3.11 may be set
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bench_dir="${BENCH_DIR:-/work/.bench-litellm}"
python="${PYTHON:-python3.11}"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

if ! command -v wrk >/dev/null; then
    $sudo apt-get install -y wrk
fi
wrk --version 2>&1 | head -1 || true

venv="$bench_dir/venv"
if [ -x "$venv/bin/litellm" ] && [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')" = 1.109.1 ]; then
    echo "LiteLLM 1.109.1 already installed in $venv"
    exit 0
fi
mkdir -p "$bench_dir"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --require-hashes --no-deps -r "$here/litellm-requirements.txt"
"$venv/bin/pip" install --quiet --require-hashes --no-deps -r "$here/litellm-wheel.txt"
# Expected: only "litellm 1.109.1 has requirement certifi>=2026.10.19, but you have certifi 2026.10.18".
"$venv/bin/pip" check || true
echo "LiteLLM $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))') installed in $venv"
