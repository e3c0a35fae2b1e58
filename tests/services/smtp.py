"""Real SMTP servers on loopback: aiosmtpd capture, a fault-injecting server, Postfix smtp-sink.

Register the fixtures in a test module by assignment (an import would trip ruff's F811):
``from tests.services import smtp as services`` then ``smtp_capture = services.smtp_capture``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from outreach.servers.smtp import SmtpSettings
from tests.services import missing

USER = "recruiter@example.com"
PASSWORD = "correct horse battery staple"
TOKEN = "ya29.test-token"


@dataclass(frozen=True)
class Received:
    """One message as the server got it: envelope and exact bytes (dot-unstuffed)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool = False
    helo: str | None = None
    user: str | None = None


def loopback_settings(port: int, **overrides: Any) -> SmtpSettings:
    """Settings for a test server on 127.0.0.1 (plaintext unless overridden, 5 s timeout)."""
    base = SmtpSettings("127.0.0.1", port, "none", username=None, password=None, timeout=5.0)
    return replace(base, **overrides)


class LoopThread:
    """An event loop in a daemon thread, hosting servers for the duration of a test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def serve(self, start: Coroutine[Any, Any, asyncio.Server]) -> int:
        """Start a server in the loop and return its port."""
        server: asyncio.Server = self.run(start)
        self.servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        async def cancel_all() -> None:
            for server in self.servers:
                server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()


@dataclass
class CaptureServer:
    """aiosmtpd on 127.0.0.1 collecting every message it accepts."""

    port: int
    messages: list[Received]
    tls_cert: Path | None = None

    def clear(self) -> None:
        self.messages.clear()

    def settings(self, **overrides: Any) -> SmtpSettings:
        return loopback_settings(self.port, **overrides)


class _CaptureHandler:
    def __init__(self, messages: list[Received]) -> None:
        self.messages = messages

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert envelope.mail_from is not None and envelope.original_content is not None
        self.messages.append(
            Received(
                envelope.mail_from,
                tuple(envelope.rcpt_tos),
                envelope.original_content,
                tls=session.ssl is not None,
                helo=session.host_name,
                user=session.auth_data if session.authenticated else None,
            )
        )
        return f"250 2.0.0 Ok: queued as Q{len(self.messages)}"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """Accept AUTH XOAUTH2 for USER with TOKEN; answer failures like Gmail does."""
        blob = base64.b64decode(args[1]) if len(args) == 2 else b""
        if blob == f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01".encode():
            return AuthResult(success=True, auth_data=USER)
        await server.challenge_auth(b'{"status":"401","schemes":"bearer"}')
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
        )


def _check_password(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=USER if ok else None)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1, made with openssl at test time."""
    openssl = shutil.which("openssl")
    if openssl is None:
        missing("openssl not installed: needed to make a test TLS certificate")
        raise AssertionError("unreachable: missing() skips or fails")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def smtp_capture_factory(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., CaptureServer]]:
    """Start aiosmtpd servers: ``factory(auth=False, starttls=False, implicit_tls=False)``.

    ``exclude`` names AUTH mechanisms the server should not offer (e.g. ``("PLAIN",)``).
    """
    loops: list[LoopThread] = []

    def start(
        *,
        auth: bool = False,
        starttls: bool = False,
        implicit_tls: bool = False,
        exclude: tuple[str, ...] = (),
    ) -> CaptureServer:
        tls_files = request.getfixturevalue("tls_files") if starttls or implicit_tls else None
        messages: list[Received] = []
        handler = _CaptureHandler(messages)
        thread = LoopThread()
        loops.append(thread)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH) if tls_files else None
        if context and tls_files:
            context.load_cert_chain(*tls_files)

        def factory() -> SMTP:
            return SMTP(
                handler,
                hostname="capture.test",
                loop=thread.loop,
                tls_context=context if starttls else None,
                authenticator=_check_password if auth else None,
                auth_require_tls=False,
                auth_exclude_mechanism=exclude if auth else ("PLAIN", "LOGIN", "XOAUTH2"),
            )

        port = thread.serve(
            thread.loop.create_server(
                factory, "127.0.0.1", 0, ssl=context if implicit_tls else None
            )
        )
        return CaptureServer(port, messages, tls_files[0] if tls_files else None)

    yield start
    for thread in loops:
        thread.stop()


@pytest.fixture
def smtp_capture(smtp_capture_factory: Callable[..., CaptureServer]) -> CaptureServer:
    """A plain aiosmtpd server on loopback, no AUTH, no TLS."""
    return smtp_capture_factory()


class Fault(StrEnum):
    """Where the fault server misbehaves."""

    NONE = "none"
    CONNECT_421 = "421 at connect"
    RCPT_451 = "451 at RCPT"
    RCPT_550 = "550 at RCPT"
    DATA_451 = "451 after the body"
    DATA_552 = "552 after the body"
    CLOSE_BEFORE_DATA = "close before DATA"
    CLOSE_AFTER_BODY = "close after the body, message kept"
    STALL_BEFORE_DATA = "never reply to MAIL"
    STALL_AFTER_BODY = "never reply after the body, message kept"
    HANG_UP_AFTER_REPLY = "accept, then close the idle connection"


@dataclass
class FaultServer:
    """A scripted SMTP server; ``fail_times=None`` misbehaves forever, N only N times."""

    port: int
    fault: Fault = Fault.NONE
    fail_times: int | None = None
    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    commands: list[str] = field(default_factory=list)  # every verb received, in order

    def settings(self, **overrides: Any) -> SmtpSettings:
        return loopback_settings(self.port, **overrides)

    def _trigger(self, fault: Fault) -> bool:
        if self.fault is not fault or self.fail_times == 0:
            return False
        if self.fail_times is not None:
            self.fail_times -= 1
        return True

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        if self._trigger(Fault.CONNECT_421):
            await reply("421 4.3.2 fault.test too busy, try later")
            return
        await reply("220 fault.test ESMTP")
        mail_from, rcpts = "", list[str]()
        while line := await reader.readline():
            verb = line.decode().strip().split(" ", 1)[0].upper()
            arg = line.decode().strip()[len(verb) :].strip()
            self.commands.append(verb)
            if verb in {"EHLO", "HELO"}:
                await reply("250-fault.test\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES")
            elif verb == "MAIL":
                if self._trigger(Fault.STALL_BEFORE_DATA):
                    await asyncio.Event().wait()
                mail_from, rcpts = arg.split(":", 1)[1].strip("<> "), []
                await reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                if self._trigger(Fault.RCPT_451):
                    await reply("451 4.7.1 greylisted, come back later")
                elif self._trigger(Fault.RCPT_550):
                    await reply("550 5.1.1 <nobody@example.com>: mailbox unknown")
                else:
                    rcpts.append(arg.split(":", 1)[1].strip("<> "))
                    await reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if self._trigger(Fault.CLOSE_BEFORE_DATA):
                    return
                await reply("354 End data with <CR><LF>.<CR><LF>")
                body = bytearray()
                while (chunk := await reader.readuntil(b"\r\n")) != b".\r\n":
                    body += chunk[1:] if chunk.startswith(b".") else chunk
                if self._trigger(Fault.DATA_451):
                    await reply("451 4.3.0 queue file write error")
                    continue
                if self._trigger(Fault.DATA_552):
                    await reply("552 5.3.4 message too big for fault.test")
                    continue
                self.messages.append(Received(mail_from, tuple(rcpts), bytes(body)))
                if self._trigger(Fault.CLOSE_AFTER_BODY):
                    return
                if self._trigger(Fault.STALL_AFTER_BODY):
                    await asyncio.Event().wait()
                await reply(f"250 2.0.0 Ok: queued as F{len(self.messages)}")
                if self._trigger(Fault.HANG_UP_AFTER_REPLY):
                    return
            elif verb in {"RSET", "NOOP"}:
                await reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                await reply("221 2.0.0 Bye")
                return
            else:
                await reply("502 5.5.2 command not recognised")


@pytest.fixture
def fault_smtp() -> Iterator[Callable[..., FaultServer]]:
    """Start fault servers: ``fault_smtp(Fault.RCPT_451, fail_times=2)``."""
    thread = LoopThread()

    def start(fault: Fault = Fault.NONE, *, fail_times: int | None = None) -> FaultServer:
        server = FaultServer(port=0, fault=fault, fail_times=fail_times)
        server.port = thread.serve(asyncio.start_server(server.session, "127.0.0.1", 0))
        return server

    yield start
    thread.stop()


@dataclass
class SinkServer:
    """Postfix smtp-sink; every transaction it receives is a file in ``dump_dir``."""

    port: int
    dump_dir: Path

    def dumps(self, *, expect: int = 0, deadline: float = 10.0) -> list[bytes]:
        """Return the dumped transactions, waiting up to ``deadline`` for ``expect`` of them."""
        end = time.monotonic() + deadline
        while True:
            files = sorted(p for p in self.dump_dir.rglob("*") if p.is_file())
            if len(files) >= expect or time.monotonic() > end:
                return [p.read_bytes() for p in files]
            time.sleep(0.02)

    def settings(self, **overrides: Any) -> SmtpSettings:
        return loopback_settings(self.port, **overrides)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> bool:
    for _ in range(500):
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.01)
    return False


@pytest.fixture
def smtp_sink() -> Iterator[Callable[..., SinkServer]]:
    """Start Postfix's smtp-sink: ``smtp_sink("-q", ".")`` drops the line after the body."""
    binary = "/usr/sbin/smtp-sink"
    if not os.access(binary, os.X_OK):
        missing("postfix smtp-sink not installed: run make test")
    procs: list[subprocess.Popen[bytes]] = []
    dirs: list[str] = []

    def start(*options: str) -> SinkServer:
        dump_dir = tempfile.mkdtemp(prefix="outreach-sink-")  # pytest's tmp is 0700 root
        dirs.append(dump_dir)
        privs: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(dump_dir, user="nobody")
            privs = ["-u", "nobody"]
        for _ in range(5):
            port = _free_port()
            argv = [binary, *privs, "-d", f"{dump_dir}/%H%M%S.", *options, f"127.0.0.1:{port}"]
            proc = subprocess.Popen(
                [*argv, "10"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            procs.append(proc)
            if _wait_listening(port, proc):
                return SinkServer(port, Path(dump_dir))
        raise RuntimeError("smtp-sink did not start on a free port")

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)
    for folder in dirs:
        shutil.rmtree(folder, ignore_errors=True)
