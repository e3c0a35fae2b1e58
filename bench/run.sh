#!/usr/bin/env bash
# Run every benchmark; each prints its figures and the ratio to its same-run baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in import draft queue freeze send sync campaign prompt_size reply_latency candidates; do
    if [ -f "bench/$bench.py" ]; then
        echo "== bench/$bench.py"
        # -P: bench/queue.py must not shadow the standard library's queue module.
        .venv/bin/python -P "bench/$bench.py"
    fi
done
