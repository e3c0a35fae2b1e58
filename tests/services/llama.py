"""A real small model (SmolLM2-135M) behind llama-cpp-python's OpenAI-compatible server.

``scripts/install-llama.sh`` installs both pieces; without them the tests that need the model
skip (and fail under CI=true, see ``tests.services.missing``). One server per test session.
``OUTREACH_LLAMA_MODEL`` points at another GGUF file.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.services import missing

HOST = "127.0.0.1"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / ".cache" / "models" / MODEL_FILE
_STARTUP_DEADLINE_S = 120.0


def model_path() -> Path:
    """Where the GGUF model is expected."""
    return Path(os.environ.get("OUTREACH_LLAMA_MODEL", str(DEFAULT_MODEL)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + _STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{base_url}/models", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling a starting process; no clock to inject
    pytest.fail(f"llama_cpp.server not ready after {_STARTUP_DEADLINE_S:.0f}s; see {log}")


@contextmanager
def serve_llama(log_dir: Path) -> Iterator[str]:
    """Run llama_cpp.server with the small model on a free loopback port; yield the /v1 URL."""
    if importlib.util.find_spec("llama_cpp") is None:
        missing("llama-cpp-python is not installed: run scripts/install-llama.sh")
    model = model_path()
    if not model.is_file():
        missing(f"no model at {model}: run scripts/install-llama.sh")
    port = _free_port()
    log = log_dir / "llama-server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        HOST,
        "--port",
        str(port),
        "--n_ctx",
        "2048",
    ]
    base_url = f"http://{HOST}:{port}/v1"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(process, base_url, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve SmolLM2 over HTTP on a free loopback port; yield the /v1 base URL."""
    with serve_llama(tmp_path_factory.mktemp("llama")) as base_url:
        yield base_url
