#!/usr/bin/env bash
# `make bench-stack`: installs wrk (Debian's package) when it is missing, then bench/stack/run.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk
fi
exec .venv/bin/python bench/stack/run.py "$@"
