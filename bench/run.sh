#!/usr/bin/env bash
# Run every benchmark; each prints its figures and the ratio to its same-run baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in import draft queue send sync campaign; do
    if [ -f "bench/$bench.py" ]; then
        echo "== bench/$bench.py"
        .venv/bin/python "bench/$bench.py"
    fi
done
