"""The SMTP transport against real servers on loopback: aiosmtpd, a fault server, smtp-sink."""

from __future__ import annotations

import asyncio
import hashlib
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from outreach.errors import ConfigError, SendError
from outreach.servers.smtp import (
    Accepted,
    Outcome,
    Permanent,
    SmtpConnection,
    SmtpSettings,
    Transient,
    Uncertain,
    check_security,
)
from outreach.servers.smtp_retry import send_with_retry
from tests.services import smtp as services
from tests.services.smtp import PASSWORD, TOKEN, USER, CaptureServer, Fault, FaultServer

smtp_capture = services.smtp_capture
smtp_capture_factory = services.smtp_capture_factory
fault_smtp = services.fault_smtp
smtp_sink = services.smtp_sink
tls_files = services.tls_files

SENDER = "asa@recruit.example"
RCPT = "kim@example.com"
DATA = (
    b"From: asa@recruit.example\r\nTo: kim@example.com\r\nSubject: hi\r\n"
    b"Message-ID: <m1@recruit.example>\r\n\r\nHello\r\n.leading dot\r\n..two dots\r\n"
)

StartCapture = Callable[..., CaptureServer]
StartFault = Callable[..., FaultServer]


async def send_once(settings: SmtpSettings, data: bytes = DATA) -> Outcome:
    async with SmtpConnection(settings) as conn:
        return await conn.send(SENDER, [RCPT], data)


class Sleeps:
    """An injected sleep that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_accepted_keeps_reply_and_exact_bytes(smtp_capture: CaptureServer) -> None:
    outcome = await send_once(smtp_capture.settings())
    assert outcome == Accepted("2.0.0 Ok: queued as Q1")
    [got] = smtp_capture.messages
    assert (got.mail_from, got.rcpt_tos, got.data) == (SENDER, (RCPT,), DATA)
    assert got.helo == "recruit.example"  # the sender's domain, not this machine's name
    assert not got.tls


async def test_bytes_that_do_not_match_their_hash_are_not_sent(
    smtp_capture: CaptureServer,
) -> None:
    frozen = hashlib.sha256(DATA).hexdigest()
    changed = DATA.replace(b"Hello", b"Send me your password")
    async with SmtpConnection(smtp_capture.settings()) as conn:
        refused = await conn.send(SENDER, [RCPT], changed, sha256=frozen)
        assert refused == Permanent(
            0, "not sent: the message bytes do not match the hash they were frozen with"
        )
        assert smtp_capture.messages == []  # not even MAIL FROM: no transaction was opened
        assert isinstance(await conn.send(SENDER, [RCPT], DATA, sha256=frozen), Accepted)
    assert [m.data for m in smtp_capture.messages] == [DATA]


async def test_bare_newlines_go_out_as_crlf(smtp_capture: CaptureServer) -> None:
    assert isinstance(await send_once(smtp_capture.settings(), b"Subject: x\n\nbody"), Accepted)
    assert smtp_capture.messages[0].data == b"Subject: x\r\n\r\nbody\r\n"


async def test_one_connection_for_many_messages(fault_smtp: StartFault) -> None:
    server = fault_smtp()
    async with SmtpConnection(server.settings()) as conn:
        outcomes = [await conn.send(SENDER, [RCPT], DATA) for _ in range(3)]
    assert outcomes == [Accepted(f"2.0.0 Ok: queued as F{n}") for n in (1, 2, 3)]
    assert server.connections == 1
    assert [m.data for m in server.messages] == [DATA] * 3


async def test_reconnects_after_the_server_hung_up(fault_smtp: StartFault) -> None:
    server = fault_smtp(Fault.CLOSE_AFTER_BODY, fail_times=1)
    async with SmtpConnection(server.settings()) as conn:
        first = await conn.send(SENDER, [RCPT], DATA)
        second = await conn.send(SENDER, [RCPT], DATA)
    assert isinstance(first, Uncertain)
    assert second == Accepted("2.0.0 Ok: queued as F2")
    assert server.connections == 2


async def test_reconnects_when_the_idle_connection_was_closed(fault_smtp: StartFault) -> None:
    server = fault_smtp(Fault.HANG_UP_AFTER_REPLY)
    async with SmtpConnection(server.settings()) as conn:
        outcomes = [await conn.send(SENDER, [RCPT], DATA) for _ in range(2)]
    assert outcomes == [Accepted("2.0.0 Ok: queued as F1"), Accepted("2.0.0 Ok: queued as F2")]
    assert server.connections == 2


@pytest.mark.parametrize(
    ("fault", "expected", "kept"),
    [
        (Fault.CONNECT_421, Transient("421 4.3.2 fault.test too busy, try later (at connect)"), 0),
        (Fault.RCPT_451, Transient("451 4.7.1 greylisted, come back later (at RCPT)"), 0),
        (Fault.RCPT_550, Permanent(550, "5.1.1 <nobody@example.com>: mailbox unknown"), 0),
        (Fault.DATA_451, Transient("451 4.3.0 queue file write error (at end of DATA)"), 0),
        (Fault.DATA_552, Permanent(552, "5.3.4 message too big for fault.test"), 0),
        (Fault.CLOSE_BEFORE_DATA, Transient("before the body"), 0),
        (Fault.STALL_BEFORE_DATA, Transient("before the body"), 0),
        (Fault.CLOSE_AFTER_BODY, Uncertain("after the body"), 1),
        (Fault.STALL_AFTER_BODY, Uncertain("after the body"), 1),
    ],
    ids=lambda value: value.name if isinstance(value, Fault) else "",
)
async def test_fault_gives_outcome(
    fault_smtp: StartFault, fault: Fault, expected: Outcome, kept: int
) -> None:
    server = fault_smtp(fault)
    outcome = await send_once(server.settings(timeout=0.5))
    assert type(outcome) is type(expected)
    if isinstance(expected, Permanent):
        assert outcome == expected
    elif isinstance(expected, Transient):
        assert isinstance(outcome, Transient) and expected.reply in outcome.reply
    else:
        assert isinstance(outcome, Uncertain) and "after the body" in outcome.reason
    assert len(server.messages) == kept


async def test_data_waits_for_the_work_begun_while_mail_from_is_out(
    fault_smtp: StartFault,
) -> None:
    server = fault_smtp()
    calls: list[list[str]] = []
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()

    async def release() -> None:
        while "RCPT" not in server.commands:
            await asyncio.sleep(0.01)  # waiting for the server, not timing it
        calls.append(list(server.commands))
        gate.set_result(None)

    def before_data() -> asyncio.Future[None]:
        calls.append([])
        asyncio.ensure_future(release())
        return gate

    async with SmtpConnection(server.settings()) as conn:
        outcome = await conn.send(SENDER, [RCPT], DATA, before_data=before_data)
        assert isinstance(outcome, Accepted) and conn.reached_data
    assert len(calls) == 2  # called once; RCPT went out while it ran, DATA only after
    assert calls[1][-2:] == ["MAIL", "RCPT"] and "DATA" not in calls[1]
    assert server.commands == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]


async def test_a_failed_record_abandons_the_message_before_data(fault_smtp: StartFault) -> None:
    server = fault_smtp()

    def before_data() -> asyncio.Future[None]:
        failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        failed.set_exception(RuntimeError("the store refused"))
        return failed

    async with SmtpConnection(server.settings()) as conn:
        with pytest.raises(RuntimeError, match="the store refused"):
            await conn.send(SENDER, [RCPT], DATA, before_data=before_data)
        assert not conn.reached_data
        assert isinstance(await conn.send(SENDER, [RCPT], DATA), Accepted)  # a fresh connection
    assert server.commands.count("DATA") == 1 and len(server.messages) == 1
    assert server.connections == 2


async def test_nobody_listening_is_transient() -> None:
    settings = SmtpSettings("127.0.0.1", 1, "none", None, None, timeout=5.0)
    outcome = await send_once(settings)
    assert isinstance(outcome, Transient) and "before the body" in outcome.reply


@pytest.mark.parametrize(
    ("sender", "recipient"),
    [
        ("eve@x.example\r\nRCPT TO:<y@z.example>", RCPT),
        ("eve@x.example", "y@z.example> NOTIFY=NEVER"),
        ("eve@x.example", "y>@z.example"),
        ("eve@x.example", "åsa@z.example"),
    ],
)
async def test_bad_envelope_address_is_refused_before_connecting(
    sender: str, recipient: str
) -> None:
    settings = SmtpSettings("127.0.0.1", 1, "none", None, None)
    with pytest.raises(SendError, match="envelope address"):
        async with SmtpConnection(settings) as conn:
            await conn.send(sender, [recipient], DATA)


@pytest.mark.parametrize("fault", [Fault.RCPT_451, Fault.CONNECT_421, Fault.CLOSE_BEFORE_DATA])
async def test_retry_transient_then_exactly_one_copy(fault_smtp: StartFault, fault: Fault) -> None:
    server = fault_smtp(fault, fail_times=2)
    sleeps = Sleeps()
    async with SmtpConnection(server.settings()) as conn:
        outcome = await send_with_retry(conn, SENDER, [RCPT], DATA, sleep=sleeps)
    assert outcome == Accepted("2.0.0 Ok: queued as F1")
    assert [m.data for m in server.messages] == [DATA]
    assert len(sleeps.waits) == 2 and all(w >= 0 for w in sleeps.waits)


@pytest.mark.parametrize("fault", [Fault.CLOSE_AFTER_BODY, Fault.RCPT_550, Fault.DATA_552])
async def test_never_retries_uncertain_or_permanent(fault_smtp: StartFault, fault: Fault) -> None:
    server = fault_smtp(fault)
    sleeps = Sleeps()
    async with SmtpConnection(server.settings()) as conn:
        outcome = await send_with_retry(conn, SENDER, [RCPT], DATA, sleep=sleeps)
    assert isinstance(outcome, Uncertain | Permanent)
    assert sleeps.waits == []
    assert server.connections == 1


async def test_retry_is_bounded_and_returns_last_outcome(fault_smtp: StartFault) -> None:
    server = fault_smtp(Fault.RCPT_451)
    sleeps = Sleeps()
    async with SmtpConnection(server.settings()) as conn:
        outcome = await send_with_retry(
            conn, SENDER, [RCPT], DATA, attempts=5, max_seconds=3.0, sleep=sleeps
        )
    assert isinstance(outcome, Transient) and outcome.reply.startswith("451 ")
    assert 1 <= len(sleeps.waits) <= 4
    assert sum(sleeps.waits) <= 3.0
    assert server.messages == []


@pytest.mark.parametrize("exclude", [(), ("PLAIN",)], ids=["PLAIN", "LOGIN"])
async def test_password_auth(smtp_capture_factory: StartCapture, exclude: tuple[str, ...]) -> None:
    server = smtp_capture_factory(auth=True, exclude=exclude)
    outcome = await send_once(server.settings(username=USER, password=PASSWORD))
    assert isinstance(outcome, Accepted)
    assert server.messages[0].user == USER


async def test_wrong_password_is_a_config_error(smtp_capture_factory: StartCapture) -> None:
    server = smtp_capture_factory(auth=True)
    with pytest.raises(ConfigError, match="refused the login.*535"):
        await send_once(server.settings(username=USER, password="wrong"))
    assert server.messages == []


def token_command(tmp_path: Path, token: str, status: int = 0) -> str:
    script = tmp_path / "print token.py"  # a space: the command is split like a shell would
    script.write_text(
        f"import sys\nprint({token!r})\nprint('secret-in-stderr', file=sys.stderr)\n"
        f"sys.exit({status})\n"
    )
    return shlex.join([sys.executable, str(script)])


async def test_xoauth2_with_token_command(
    smtp_capture_factory: StartCapture, tmp_path: Path
) -> None:
    server = smtp_capture_factory(auth=True)
    settings = server.settings(username=USER, oauth2_token_command=token_command(tmp_path, TOKEN))
    assert isinstance(await send_once(settings), Accepted)
    assert server.messages[0].user == USER


async def test_xoauth2_rejected_token(smtp_capture_factory: StartCapture, tmp_path: Path) -> None:
    server = smtp_capture_factory(auth=True)
    command = token_command(tmp_path, "expired")
    with pytest.raises(ConfigError, match="535"):
        await send_once(server.settings(username=USER, oauth2_token_command=command))


async def test_failing_token_command_hides_stderr(
    smtp_capture_factory: StartCapture, tmp_path: Path
) -> None:
    server = smtp_capture_factory(auth=True)
    command = token_command(tmp_path, TOKEN, status=3)
    with pytest.raises(ConfigError, match="exited with status 3") as caught:
        await send_once(server.settings(username=USER, oauth2_token_command=command))
    assert "secret" not in str(caught.value)


async def test_starttls(smtp_capture_factory: StartCapture) -> None:
    server = smtp_capture_factory(starttls=True, auth=True)
    settings = server.settings(
        security="starttls", tls_verify=False, username=USER, password=PASSWORD
    )
    assert isinstance(await send_once(settings), Accepted)
    assert server.messages[0].tls and server.messages[0].data == DATA


async def test_implicit_tls(smtp_capture_factory: StartCapture) -> None:
    server = smtp_capture_factory(implicit_tls=True)
    assert isinstance(await send_once(server.settings(security="tls", tls_verify=False)), Accepted)
    assert server.messages[0].data == DATA


async def test_starttls_missing_refuses_plaintext(smtp_capture: CaptureServer) -> None:
    settings = smtp_capture.settings(security="starttls", tls_verify=False)
    with pytest.raises(ConfigError, match="does not offer STARTTLS"):
        await send_once(settings)
    assert smtp_capture.messages == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_self_signed_certificate_is_refused(
    smtp_capture_factory: StartCapture, security: str
) -> None:
    server = smtp_capture_factory(starttls=security == "starttls", implicit_tls=security == "tls")
    with pytest.raises(ConfigError, match="certificate"):
        await send_once(server.settings(security=security))
    assert server.messages == []


@pytest.mark.parametrize("host", ["smtp.example.com", "10.0.0.5", "2001:db8::1"])
def test_plaintext_to_remote_host_is_refused(host: str) -> None:
    settings = SmtpSettings(host, 25, "none", None, None)
    with pytest.raises(ConfigError, match='use "tls"'):
        check_security(settings)
    with pytest.raises(ConfigError):
        SmtpConnection(settings)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "localhost"])
def test_plaintext_to_loopback_is_allowed(host: str) -> None:
    check_security(SmtpSettings(host, 25, "none", None, None))


def test_unknown_security_names_the_key() -> None:
    with pytest.raises(ConfigError, match="smtp.security"):
        check_security(SmtpSettings("127.0.0.1", 25, "ssl", None, None))


async def test_smtp_sink_accepts(smtp_sink: Callable[..., services.SinkServer]) -> None:
    sink = smtp_sink()
    outcome = await send_once(sink.settings())
    assert isinstance(outcome, Accepted)
    [dump] = sink.dumps(expect=1)
    assert b"Message-ID: <m1@recruit.example>" in dump


async def test_smtp_sink_drop_after_body_is_uncertain(
    smtp_sink: Callable[..., services.SinkServer],
) -> None:
    sink = smtp_sink("-q", ".")
    outcome = await send_once(sink.settings())
    assert isinstance(outcome, Uncertain)
    [dump] = sink.dumps(expect=1)
    assert b"Message-ID: <m1@recruit.example>" in dump
    assert b"\n.leading dot\n" in dump.replace(b"\r\n", b"\n")
