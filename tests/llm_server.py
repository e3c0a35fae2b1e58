"""A scripted OpenAI-compatible HTTP server on loopback: the one fake in the test suite.

Tests drive the real ``openai`` client against it. Each request to ``/v1/chat/completions``
takes the next behaviour from the script (``ok``, ``status``, ``hang``, ``invalid_json``,
``refusal``, ``reject_json_schema``); with the script empty it answers slot JSON built from the
schema in the request. Every request is logged for assertions.

Use the ``llm_server`` fixture (register this module as a pytest plugin, or import the fixture).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

LLAMA_CPP_REJECTION = (
    "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}]"
)


@dataclass
class Behaviour:
    """What the server does with one request."""

    kind: str
    content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    seconds: float = 0.0


def ok(answer: Mapping[str, Any] | str) -> Behaviour:
    """Answer with this content (a dict is sent as JSON text)."""
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return Behaviour("ok", content=text)


def status(code: int, *, headers: Mapping[str, str] | None = None, body: Any = None) -> Behaviour:
    """Fail with this HTTP status, headers and error body."""
    if body is None:
        body = {"error": {"message": f"scripted status {code}", "type": "server_error"}}
    return Behaviour("status", status=code, headers=dict(headers or {}), body=body)


def hang(seconds: float) -> Behaviour:
    """Hold the request this long before answering (longer than the client's timeout)."""
    return Behaviour("hang", seconds=seconds)


def invalid_json() -> Behaviour:
    """Answer with text that is not JSON."""
    return Behaviour("ok", content="Sure! Here is the hook: {hook: great work at")


def refusal(text: str = "I'm sorry, but I can't help with that.") -> Behaviour:
    """Answer with an OpenAI-style refusal."""
    return Behaviour("refusal", content=text)


def content_filter() -> Behaviour:
    """Answer with finish_reason content_filter."""
    return Behaviour("content_filter")


def reject_json_schema() -> Behaviour:
    """Fail like llama-cpp-python does when sent response_format type json_schema."""
    return status(500, body={"error": {"message": LLAMA_CPP_REJECTION, "type": "internal"}})


def _schema_in(request: Mapping[str, Any]) -> dict[str, Any] | None:
    fmt = request.get("response_format") or {}
    if isinstance(fmt.get("json_schema"), dict):
        return dict(fmt["json_schema"].get("schema") or {})
    if isinstance(fmt.get("schema"), dict):
        return dict(fmt["schema"])
    decoder = json.JSONDecoder()
    for message in reversed(request.get("messages", [])):
        content = str(message.get("content", ""))
        for match in re.finditer(r"JSON schema: ", content):
            try:
                value, _ = decoder.raw_decode(content, match.end())
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def slot_answer(request: Mapping[str, Any]) -> str:
    """Answer each string property of the requested schema with a short plain sentence."""
    schema = _schema_in(request) or {}
    props = schema.get("properties", {})
    return json.dumps({name: f"A short line for {name}." for name in props})


@dataclass
class Received:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]


class FakeLLMServer:
    """The server's script, log and knobs; one per test."""

    def __init__(self) -> None:
        self.script: deque[Behaviour] = deque()
        self.requests: list[Received] = []
        self.default: Callable[[dict[str, Any]], str] = slot_answer
        self.latency = 0.0
        self.rejected_formats: set[str] = set()
        self.gate = threading.Event()
        self.gate.set()
        self.in_flight = 0
        self.max_in_flight = 0
        self._stopping = threading.Event()
        self._cond = threading.Condition()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def push(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next requests, in order."""
        self.script.extend(behaviours)

    def mimic_llama_cpp(self) -> None:
        """Reject response_format json_schema on every request, as llama-cpp-python does."""
        self.rejected_formats.add("json_schema")

    @property
    def completions(self) -> list[Received]:
        """The chat completion requests received so far."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def wait_in_flight(self, count: int, timeout: float = 10.0) -> bool:
        """Block until count requests are being handled at once (or timeout)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.in_flight >= count, timeout)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.gate.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def respond(self, request: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        """Decide the status, headers and JSON body for one chat completion request."""
        with self._cond:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._cond.notify_all()
        try:
            self.gate.wait()
            if self.latency:
                self._stopping.wait(self.latency)
            return self._respond(request)
        finally:
            with self._cond:
                self.in_flight -= 1

    def _respond(self, request: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        fmt_type = (request.get("response_format") or {}).get("type")
        if fmt_type in self.rejected_formats:
            rejected = reject_json_schema()
            return rejected.status, {}, rejected.body
        behaviour = self.script.popleft() if self.script else Behaviour("default")
        if behaviour.kind == "status":
            return behaviour.status, behaviour.headers, behaviour.body
        if behaviour.kind == "hang":
            self._stopping.wait(behaviour.seconds)
            return 200, {}, _completion(request, self.default(request))
        if behaviour.kind == "refusal":
            return 200, {}, _completion(request, None, refusal=behaviour.content)
        if behaviour.kind == "content_filter":
            return 200, {}, _completion(request, "", finish_reason="content_filter")
        text = behaviour.content if behaviour.kind == "ok" else self.default(request)
        return 200, {}, _completion(request, text or "")


def _completion(
    request: Mapping[str, Any],
    content: str | None,
    *,
    refusal: str | None = None,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    prompt_words = sum(len(str(m.get("content", "")).split()) for m in request.get("messages", []))
    answer_words = len((content or refusal or "").split())
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": answer_words,
            "total_tokens": prompt_words + answer_words,
        },
    }


def _lower(headers: Message) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _make_handler(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
        # and the client's delayed ACK add ~40 ms to every keep-alive response.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _send(self, code: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
            payload = json.dumps(body).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (timeout)

        def do_GET(self) -> None:
            server.requests.append(Received(self.path, _lower(self.headers), {}))
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": "fake-model", "object": "model", "owned_by": "tests"}
                self._send(200, {"object": "list", "data": [model]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send(400, {"error": {"message": "request body is not JSON"}})
                return
            server.requests.append(Received(self.path, _lower(self.headers), body))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            code, headers, payload = server.respond(body)
            self._send(code, payload, headers)

    return Handler


@contextmanager
def serve() -> Iterator[FakeLLMServer]:
    """Run a scripted OpenAI-compatible server on a free loopback port."""
    server = FakeLLMServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    """Start a scripted OpenAI-compatible server on a free loopback port."""
    with serve() as server:
        yield server
