"""SMTP transport that knows whether a failure happened before or after the body was sent.

SMTP cannot promise exactly-once delivery (RFC 1047): after the final "." the server may have
accepted the mail while we never see its reply. So the steps are driven one by one: every
failure up to and including the 354 reply to DATA is ``Transient`` (nothing was handed over,
safe to retry), any 5xx is ``Permanent``, and a lost connection or a timeout once the body
and its final "." were written is ``Uncertain`` (a person or the Sent folder decides).

``SmtpConnection.send`` returns an outcome and never raises for network or protocol
failures; it raises ``ConfigError`` only when the settings cannot work at all (plaintext to
a remote host, STARTTLS not offered, login refused, token command failing). In that case
nothing was sent.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType

import aiosmtplib
from aiosmtplib import SMTPException, SMTPResponseException

from outreach.config import is_loopback
from outreach.errors import ConfigError, SendError, SignInUnavailable
from outreach.servers.refusals import basic_auth_refused
from outreach.servers.smtp_oauth import oauth_login
from outreach.servers.tokens import CommandToken, TokenSource


class Security(StrEnum):
    """How the connection to the SMTP server is protected."""

    TLS = "tls"
    STARTTLS = "starttls"
    NONE = "none"


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to submit mail."""

    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    oauth2_token_command: str | None = None
    timeout: float = 30.0
    tls_verify: bool = True  # False only for tests against self-signed certs on loopback
    tokens: TokenSource | None = None  # an account's OAuth sign-in (outreach.accounts)

    def token_source(self) -> TokenSource | None:
        """Where XOAUTH2 tokens come from: the account's sign-in, or the token command."""
        if self.tokens is not None:
            return self.tokens
        if self.oauth2_token_command is not None:
            key = "smtp.oauth2_token_command"
            return CommandToken(self.oauth2_token_command, key, self.timeout)
        return None


@dataclass(frozen=True)
class Accepted:
    """The server took responsibility for the message; ``reply`` is its 250 text."""

    reply: str


@dataclass(frozen=True)
class Transient:
    """Failed before the body was handed over: safe to retry."""

    reply: str


@dataclass(frozen=True)
class Permanent:
    """The server refused with a 5xx: do not retry."""

    code: int
    reply: str


@dataclass(frozen=True)
class Uncertain:
    """The body was sent but no reply came: the message may or may not have been accepted."""

    reason: str


Outcome = Accepted | Transient | Permanent | Uncertain

_ENVELOPE_ADDRESS = re.compile(r"[!-;=?-~]+@[!-;=?-~]+")  # printable ASCII, no spaces or <>
_STEPS: dict[type[SMTPResponseException], str] = {
    aiosmtplib.SMTPConnectResponseError: "connect",
    aiosmtplib.SMTPHeloError: "EHLO",
}


class _Stop(Exception):
    """Internal: a step ended the transaction with this outcome."""

    def __init__(self, outcome: Transient | Permanent) -> None:
        super().__init__(outcome)
        self.outcome = outcome


def _refusal(code: int, message: str, step: str) -> Transient | Permanent:
    """Classify a negative reply received before the body was handed over."""
    if 500 <= code < 600:
        return Permanent(code, message)
    return Transient(f"{code} {message} (at {step})")


def check_security(settings: SmtpSettings) -> None:
    """Refuse settings that would send credentials or mail in plaintext over the network."""
    try:
        security = Security(settings.security)
    except ValueError:
        raise ConfigError(
            f"smtp.security is {settings.security!r}; use one of tls, starttls, none"
        ) from None
    if security is Security.NONE and not is_loopback(settings.host):
        raise ConfigError(
            f'smtp.security = "none" would send mail to {settings.host} in plaintext; '
            'use "tls" (usually port 465) or "starttls" (usually port 587)'
        )
    if not settings.tls_verify and not is_loopback(settings.host):
        raise ConfigError("smtp.tls_verify may be false only for a server on loopback")
    if settings.password is not None and settings.token_source() is not None:
        raise ConfigError("set either an SMTP password or smtp.oauth2_token_command, not both")
    if settings.token_source() is not None and settings.username is None:
        raise ConfigError("smtp.oauth2_token_command needs smtp.username")


def _dot_stuffed(data: bytes) -> bytes:
    """Return the DATA payload: CRLF lines, leading dots doubled, ending in CRLF.CRLF."""
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return re.sub(rb"(?m)^\.", b"..", data) + b".\r\n"


async def _step(smtp: aiosmtplib.SMTP, verb: bytes, *args: bytes, ok: tuple[int, ...]) -> None:
    """One envelope command; a reply other than `ok` stops the message at this step.

    The addresses were checked as plain ASCII (`_ENVELOPE_ADDRESS`), so they go out as they
    are, without aiosmtplib's address parsing on every message.
    """
    response = await smtp.execute_command(verb, *args)
    if response.code not in ok:
        explained = basic_auth_refused(response.code, response.message)
        if explained:  # the account's sign-in is wrong, not this message: nothing goes out
            raise ConfigError(explained)
        raise _Stop(_refusal(response.code, response.message, verb.decode()))


class SmtpConnection:
    """One SMTP session reused across messages (one at a time); reconnects when it has gone."""

    def __init__(self, settings: SmtpSettings) -> None:
        check_security(settings)
        self.settings = settings
        self._security = Security(settings.security)
        self._smtp: aiosmtplib.SMTP | None = None
        self._clean = False  # the last transaction ended with a 250: no RSET needed
        self.reached_data = False  # the last message got as far as the DATA command

    async def __aenter__(self) -> SmtpConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Say QUIT if the server is still there, then drop the connection."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if smtp.is_connected:
                await smtp.quit(timeout=min(self.settings.timeout, 5.0))
        except (SMTPException, OSError):
            pass  # the message outcomes are already known; a rude goodbye changes nothing
        finally:
            smtp.close()

    async def send(
        self,
        sender: str,
        recipients: Sequence[str],
        data: bytes,
        *,
        sha256: str | None = None,
        before_data: Callable[[], Awaitable[object]] | None = None,
    ) -> Outcome:
        """Submit one message and return what happened to it.

        With ``sha256``, bytes that do not have that hash are not sent at all (the outcome is
        ``Permanent`` with code 0): the last check that what goes out is what was frozen.
        ``before_data`` (the sender's record that this message may now go out) is called once
        MAIL FROM is on its way, so that its work overlaps the envelope's round trips, and
        what it returns is awaited before DATA; if either raises, the transaction is
        abandoned and the error propagates. ``reached_data`` tells afterwards whether the
        message got as far as the DATA command.
        """
        self.reached_data = False
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            return Permanent(
                0, "not sent: the message bytes do not match the hash they were frozen with"
            )
        for address in (sender, *recipients):
            if not _ENVELOPE_ADDRESS.fullmatch(address):
                raise SendError(f"envelope address {address!r} is not a plain ASCII address")
        if not recipients:
            raise SendError("a message needs at least one recipient")
        begun: list[Awaitable[object]] = []
        try:
            smtp, unchecked = await self._session(sender)
            try:
                await self._mail(smtp, sender, before_data, begun)
            except (aiosmtplib.SMTPServerDisconnected, OSError):
                if not unchecked:
                    raise
                # The kept-open connection was closed by the server while idle.
                self._drop()
                smtp, _ = await self._session(sender)
                await self._mail(smtp, sender, before_data, begun)
            for recipient in recipients:
                await _step(smtp, b"RCPT", b"TO:<%s>" % recipient.encode(), ok=(250, 251))
            for work in begun:
                try:
                    await work
                except BaseException:
                    self._drop()  # mid-transaction: a fresh connection is simpler than RSET
                    raise
            self.reached_data = True
            await _step(smtp, b"DATA", ok=(354,))
        except _Stop as stop:
            return stop.outcome
        except SMTPResponseException as exc:
            return _refusal(exc.code, exc.message, _STEPS.get(type(exc), "session setup"))
        except (SMTPException, OSError) as exc:
            self._drop()
            return Transient(f"{exc} (before the body was sent)")
        outcome = await self._body(smtp, data)
        # After a 250 to the end of DATA the server has reset its transaction itself (RFC 5321
        # 4.1.1.4): the next message can start with MAIL FROM, saving a round trip.
        self._clean = isinstance(outcome, Accepted)
        return outcome

    async def _mail(
        self,
        smtp: aiosmtplib.SMTP,
        sender: str,
        before_data: Callable[[], Awaitable[object]] | None,
        begun: list[Awaitable[object]],
    ) -> None:
        """MAIL FROM; ``before_data`` is called (once) while it is on the wire."""
        protocol = smtp.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost before MAIL FROM")
        # The address was checked as plain ASCII (`_ENVELOPE_ADDRESS`): written as it is.
        protocol.write(b"MAIL FROM:<%s>\r\n" % sender.encode())
        if before_data is not None and not begun:
            try:
                begun.append(before_data())  # no await: the reply cannot be read before ours
            except BaseException:
                self._drop()
                raise
        response = await protocol.read_response(timeout=self.settings.timeout)
        if response.code != 250:
            explained = basic_auth_refused(response.code, response.message)
            if explained:  # the account's sign-in is wrong, not this message: nothing goes out
                self._drop()
                raise ConfigError(explained)
            raise _Stop(_refusal(response.code, response.message, "MAIL"))

    async def _body(self, smtp: aiosmtplib.SMTP, data: bytes) -> Outcome:
        """Write the body and its final dot, then read the verdict ourselves."""
        protocol = smtp.protocol
        try:
            if protocol is None:
                raise aiosmtplib.SMTPServerDisconnected("connection lost after DATA")
            protocol.write(_dot_stuffed(data))
        except (SMTPException, OSError) as exc:
            self._drop()
            return Transient(f"{exc} (before the body was sent)")
        # From here on the server may hold the whole message.
        try:
            response = await protocol.read_response(timeout=self.settings.timeout)
        except (SMTPException, OSError) as exc:
            self._drop()
            return Uncertain(f"no reply after the body was sent: {exc}")
        if response.code == 250:
            return Accepted(response.message)
        if 400 <= response.code < 600:
            return _refusal(response.code, response.message, "end of DATA")
        self._drop()
        return Uncertain(f"unexpected reply after the body: {response.code} {response.message}")

    def _drop(self) -> None:
        """Forget a connection whose state is unknown."""
        self._clean = False
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    async def _session(self, sender: str) -> tuple[aiosmtplib.SMTP, bool]:
        """A connection ready for MAIL FROM, and whether it was reused without a check.

        Reused right after a 250 (no RSET needed), reused after RSET, or freshly opened.
        """
        if self._smtp is not None and self._smtp.is_connected:
            if self._clean:
                self._clean = False
                return self._smtp, True
            try:
                await self._smtp.rset()
                return self._smtp, False
            except (SMTPException, OSError):
                pass  # the server timed out the idle session: open a new one
        self._drop()
        self._smtp = await self._connect(sender)
        return self._smtp, False

    async def probe(self, sender: str) -> str:
        """Connect, secure and log in as for a real send, then hang up; return the greeting."""
        try:
            smtp = await self._connect(sender)
        except _Stop as stop:
            raise ConfigError(f"{self.settings.host}: {stop.outcome}") from None
        except (SMTPException, OSError) as exc:
            raise ConfigError(
                f"cannot reach {self.settings.host}:{self.settings.port}: {exc}"
            ) from None
        response = smtp.last_ehlo_response
        smtp.close()
        return response.message.splitlines()[0] if response is not None else "ok"

    async def _connect(self, sender: str) -> aiosmtplib.SMTP:
        """Connect, greet, secure and authenticate."""
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout,
            use_tls=self._security is Security.TLS,
            start_tls=False,
            validate_certs=s.tls_verify,
            # the EHLO name: the sender's domain, not this machine's hostname
            local_hostname=sender.rpartition("@")[2],
        )
        try:
            await smtp.connect()
            await smtp.ehlo()
            if self._security is Security.STARTTLS:
                if not smtp.supports_extension("starttls"):
                    raise ConfigError(
                        f"{s.host}:{s.port} does not offer STARTTLS; refusing to send in "
                        'plaintext: check smtp.port, or use smtp.security = "tls"'
                    )
                await smtp.starttls()
                await smtp.ehlo()
            if s.username is not None:
                await self._login(smtp)
        except ssl.SSLCertVerificationError as exc:
            smtp.close()
            raise ConfigError(f"the TLS certificate of {s.host} is not valid: {exc}") from None
        except aiosmtplib.SMTPConnectError as exc:
            smtp.close()
            if isinstance(exc.__cause__, ssl.SSLCertVerificationError):
                raise ConfigError(
                    f"the TLS certificate of {s.host} is not valid: {exc.__cause__}"
                ) from None
            raise
        except BaseException:
            smtp.close()
            raise
        return smtp

    async def _login(self, smtp: aiosmtplib.SMTP) -> None:
        """Authenticate with XOAUTH2/OAUTHBEARER (a token source) or PLAIN/LOGIN (password)."""
        s = self.settings
        assert s.username is not None
        tokens = s.token_source()
        try:
            if tokens is not None:
                await oauth_login(smtp, s.username, tokens)
            else:
                await smtp.login(s.username, s.password or "")
        except SignInUnavailable as exc:
            raise _Stop(Transient(f"{exc} (at AUTH)")) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            if 400 <= exc.code < 500:
                raise _Stop(Transient(f"{exc.code} {exc.message} (at AUTH)")) from None
            explained = basic_auth_refused(exc.code, exc.message)
            if explained and tokens is None:
                raise ConfigError(f"{s.host}: {explained}") from None
            raise ConfigError(
                f"{s.host} refused the login of {s.username!r}: {exc.code} {exc.message}; "
                "check smtp.username and the password or token"
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            explained = basic_auth_refused(exc.code, exc.message)
            if explained and tokens is None:
                raise ConfigError(f"{s.host}: {explained}") from None
            raise
        except SMTPException as exc:  # no AUTH offered, or no mechanism in common
            raise ConfigError(f"cannot log in to {s.host}: {exc}") from None
