"""The Mailbox interface over IMAP (imapclient): EXAMINE, BODY.PEEK and one-line SyncErrors.

imapclient is synchronous: the sync runs an ImapMailbox in a worker thread. A network failure
drops the connection (later calls raise "connection closed"); the caller opens a new mailbox.
"""

from __future__ import annotations

import imaplib
import select
import socket
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import imapclient

from outreach.config import is_loopback
from outreach.errors import ConfigError, SyncError
from outreach.servers.mailbox import (
    HEADER_FIELDS,
    UID_CHUNK,
    FetchedBody,
    FolderState,
    HeaderItem,
    Mailbox,
    chunks,
    message_id_of,
    same_message_id,
)
from outreach.servers.tokens import TokenSource

SECURITY_MODES = ("tls", "starttls", "none")
BODY_BATCH_BYTES = 8 * 1024 * 1024  # bytes of bodies asked for in one FETCH
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "INBOX.Sent", "INBOX/Sent")
GMAIL_ROOTS = ("[Gmail]", "[Google Mail]")

_HEADER_FETCH = f"BODY.PEEK[HEADER.FIELDS ({' '.join(HEADER_FIELDS)})]".encode()
_MSGID_FETCH = b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_SENT, _ALL = b"\\Sent", b"\\All"  # special-use flags (RFC 6154)


class ImapMailbox(Mailbox):
    """A mailbox on an IMAP server, logged in on construction."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str,
        username: str,
        password: str | None = None,
        oauth2_token: str | None = None,
        tokens: TokenSource | None = None,
        timeout: float = 30.0,
        folders: Sequence[str] | None = None,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ConfigError(
                f'imap.security = "{security}" is not one of {", ".join(SECURITY_MODES)}'
            )
        if security == "none" and not is_loopback(host):
            raise ConfigError(
                f'imap.security = "none" would send the password in clear text to {host}: '
                'use "tls" or "starttls" ("none" is allowed only for 127.0.0.1 and localhost)'
            )
        if oauth2_token is not None:
            tokens = _Fixed(oauth2_token)
        if password is None and tokens is None:
            raise ConfigError(
                f"no IMAP password for {username}: set OUTREACH_IMAP_PASSWORD or an OAuth2 token"
            )
        self._where = f"imap {host}:{port}"
        self._timeout = timeout
        self._secrets = [s for s in (password,) if s]
        self._folders = list(folders) if folders else None
        self._selected: str | None = None
        self._empty = 0  # IDLE polls in a row that found the socket readable but said nothing
        self._client: Any = None
        self._connect(host, port, security, timeout)
        try:
            if security == "starttls":
                with self._guard("STARTTLS") as client:
                    client.starttls(ssl.create_default_context())
            if tokens is not None:
                self._oauth_login(username, tokens)
            else:
                self._login(username, password)
            self._enable_condstore()
        except BaseException:
            self._drop()
            raise

    def _connect(self, host: str, port: int, security: str, timeout: float) -> None:
        context = ssl.create_default_context() if security == "tls" else None
        try:
            client = imapclient.IMAPClient(
                host, port, ssl=security == "tls", ssl_context=context, timeout=timeout
            )
        except (imaplib.IMAP4.error, OSError) as exc:
            raise SyncError(f"{self._where}: cannot connect: {self._reason(exc)}") from exc
        client.normalise_times = False  # keep INTERNALDATE's time zone
        self._client = client

    def _login(self, username: str, password: str | None) -> None:
        try:
            self._client.login(username, password)
        except (imaplib.IMAP4.abort, OSError) as exc:
            raise SyncError(
                f"{self._where}: connection lost at login: {self._reason(exc)}"
            ) from exc
        except imaplib.IMAP4.error as exc:
            raise SyncError(
                f"{self._where}: login failed for {username} ({self._reason(exc)})"
                " — check imap.username and OUTREACH_IMAP_PASSWORD"
            ) from None

    def _oauth_login(self, username: str, tokens: TokenSource) -> None:
        """XOAUTH2, or OAUTHBEARER when offered; once more with a fresh token if refused."""
        token = tokens.token()
        for attempt in (1, 2):
            self._secrets.append(token)
            try:
                self._authenticate(username, token)
                return
            except (imaplib.IMAP4.abort, OSError) as exc:
                raise SyncError(
                    f"{self._where}: connection lost at login: {self._reason(exc)}"
                ) from exc
            except imaplib.IMAP4.error as exc:
                if attempt == 2:
                    raise SyncError(
                        f"{self._where}: {username} was refused with a fresh OAuth2 token "
                        f"({self._reason(exc)}): check the username, and that IMAP is "
                        "enabled for this mailbox"
                    ) from None
            token = tokens.token(refused=token)

    def _authenticate(self, username: str, token: str) -> None:
        client = self._client
        if b"AUTH=OAUTHBEARER" in client.capabilities():
            client.oauthbearer_login(username, token)
        else:
            client.oauth2_login(username, token)

    def _enable_condstore(self) -> None:
        client = self._client
        with self._guard("ENABLE CONDSTORE"):
            if client.has_capability("ENABLE") and client.has_capability("CONDSTORE"):
                client.enable("CONDSTORE")  # makes EXAMINE report HIGHESTMODSEQ

    def _reason(self, exc: BaseException) -> str:
        first = exc.args[0] if exc.args else None
        text = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(exc)
        text = text or type(exc).__name__
        if isinstance(exc, TimeoutError) or "timed out" in text:
            text = f"timed out after {self._timeout:g} s"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return " ".join(text.split())

    def _drop(self) -> None:
        client, self._client, self._selected = self._client, None, None
        if client is not None:
            try:
                client.shutdown()
            except OSError:
                pass

    @contextmanager
    def _guard(self, action: str) -> Iterator[Any]:
        """Run IMAP commands, turning failures into one-line SyncErrors."""
        if self._client is None:
            raise SyncError(f"{self._where}: connection closed; cannot {action}")
        try:
            yield self._client
        except imaplib.IMAP4.abort as exc:
            self._drop()
            raise SyncError(
                f"{self._where}: connection lost during {action}: {self._reason(exc)}"
            ) from exc
        except OSError as exc:
            self._drop()
            raise SyncError(f"{self._where}: {action} failed: {self._reason(exc)}") from exc
        except imaplib.IMAP4.error as exc:
            raise SyncError(f"{self._where}: {action} failed: {self._reason(exc)}") from exc

    def folders(self) -> list[str]:
        """Return the folders to sync: INBOX and Sent, or Gmail's All Mail alone."""
        if self._folders is not None:
            return list(self._folders)
        listing = self._list()
        names = {name for _, name in listing}
        with self._guard("CAPABILITY") as client:
            gmail = client.has_capability("X-GM-EXT-1")
        if gmail or any(name.split("/")[0] in GMAIL_ROOTS for name in names):
            by_name = [f"{root}/All Mail" for root in GMAIL_ROOTS]
            all_mail = _special(listing, _ALL) or next((n for n in by_name if n in names), None)
            if all_mail is not None:
                return [all_mail]
        sent = _special(listing, _SENT) or next((n for n in SENT_NAMES if n in names), None)
        return ["INBOX"] if sent is None else ["INBOX", sent]

    def sent_folder(self) -> str | None:
        """Return the \\Sent special-use folder, or else a folder named like one."""
        listing = self._list()
        names = {name for _, name in listing}
        return _special(listing, _SENT) or next((n for n in SENT_NAMES if n in names), None)

    def _list(self) -> list[tuple[tuple[bytes, ...], str]]:
        with self._guard("LIST") as client:
            return [(tuple(flags), str(name)) for flags, _, name in client.list_folders()]

    def select(self, folder: str) -> FolderState:
        """EXAMINE a folder (read-only) and report its UIDVALIDITY, UIDNEXT and size."""
        with self._guard(f"EXAMINE {folder}") as client:
            self._selected = None
            info = client.select_folder(folder, readonly=True)
            if b"UIDNEXT" not in info or b"UIDVALIDITY" not in info:
                info.update(client.folder_status(folder, [b"UIDNEXT", b"UIDVALIDITY"]))
            self._selected = folder
        modseq = info.get(b"HIGHESTMODSEQ")
        return FolderState(
            name=folder,
            uidvalidity=int(info[b"UIDVALIDITY"]),
            uidnext=int(info[b"UIDNEXT"]),
            highestmodseq=None if modseq is None else int(modseq),
            exists=int(info.get(b"EXISTS", 0)),
        )

    def _ensure(self, folder: str) -> None:
        if self._selected != folder:
            self.select(folder)

    def uids_after(self, folder: str, last_uid: int, since: date | None) -> list[int]:
        """UID SEARCH for UIDs above ``last_uid``, and received since ``since`` if given."""
        self._ensure(folder)
        criteria: list[Any] = []
        if last_uid > 0:
            criteria += ["UID", f"{last_uid + 1}:*"]
        if since is not None:
            criteria += ["SINCE", since]
        with self._guard(f"SEARCH {folder}") as client:
            found = client.search(criteria or ["ALL"])
        # "n:*" always matches the highest UID, even when n is above it.
        return sorted(uid for uid in map(int, found) if uid > last_uid)

    def fetch_headers(self, folder: str, uids: Sequence[int]) -> list[HeaderItem]:
        """Fetch header fields, RFC822.SIZE and INTERNALDATE in chunks of UIDs."""
        self._ensure(folder)
        items: list[HeaderItem] = []
        for chunk in chunks(uids):
            with self._guard(f"FETCH headers in {folder}") as client:
                response = client.fetch(chunk, [_HEADER_FETCH, b"RFC822.SIZE", b"INTERNALDATE"])
            for uid in sorted(response):
                data = response[uid]
                items.append(
                    HeaderItem(
                        uid=int(uid),
                        size=int(data.get(b"RFC822.SIZE", 0)),
                        internaldate=data.get(b"INTERNALDATE"),
                        header_bytes=_section(data, b"BODY[HEADER.FIELDS"),
                    )
                )
        return items

    def fetch_bodies(
        self, folder: str, uids: Sequence[int], max_bytes: int
    ) -> dict[int, FetchedBody]:
        """Fetch BODY.PEEK[]; over ``max_bytes``, the header and the body's first bytes."""
        self._ensure(folder)
        sizes: dict[int, int] = {}
        for chunk in chunks(uids):
            with self._guard(f"FETCH sizes in {folder}") as client:
                response = client.fetch(chunk, [b"RFC822.SIZE"])
            sizes.update({int(uid): int(d[b"RFC822.SIZE"]) for uid, d in response.items()})
        whole = [uid for uid, size in sizes.items() if size <= max_bytes]
        large = sorted(uid for uid, size in sizes.items() if size > max_bytes)
        bodies: dict[int, FetchedBody] = {}
        for batch in _batches(whole, sizes):
            with self._guard(f"FETCH bodies in {folder}") as client:
                response = client.fetch(batch, [b"BODY.PEEK[]"])
            for uid, data in response.items():
                raw = _section(data, b"BODY[]")
                bodies[int(uid)] = FetchedBody(raw=raw, size=sizes[int(uid)], truncated=False)
        partial = [b"BODY.PEEK[HEADER]", f"BODY.PEEK[TEXT]<0.{max_bytes}>".encode()]
        for batch in _batches(large, {uid: max_bytes for uid in large}):
            with self._guard(f"FETCH bodies in {folder}") as client:
                response = client.fetch(batch, partial)
            for uid, data in response.items():
                raw = _section(data, b"BODY[HEADER]") + _section(data, b"BODY[TEXT]")
                bodies[int(uid)] = FetchedBody(raw=raw, size=sizes[int(uid)], truncated=True)
        return dict(sorted(bodies.items()))

    def search_message_id(self, folder: str, message_id: str) -> list[int]:
        """UID SEARCH HEADER Message-ID, keeping only exact matches (Dovecot matches substrings)."""
        self._ensure(folder)
        with self._guard(f"SEARCH {folder}") as client:
            candidates = [int(uid) for uid in client.search(["HEADER", "Message-ID", message_id])]
        found = []
        for chunk in chunks(candidates):
            with self._guard(f"FETCH Message-ID in {folder}") as client:
                response = client.fetch(chunk, [_MSGID_FETCH])
            for uid, data in response.items():
                if same_message_id(
                    message_id_of(_section(data, b"BODY[HEADER.FIELDS")), message_id
                ):
                    found.append(int(uid))
        return sorted(found)

    def search_from(self, folder: str, address: str, since: date) -> list[int]:
        """UIDs of messages from this address dated on or after `since` (FROM … SENTSINCE)."""
        self._ensure(folder)
        with self._guard(f"SEARCH {folder}") as client:
            found = client.search(["FROM", address, "SENTSINCE", since])
        return sorted(int(uid) for uid in found)

    def append(
        self,
        folder: str,
        raw: bytes,
        flags: Sequence[str] = ("\\Seen",),
        when: datetime | None = None,
    ) -> None:
        """APPEND a message to a folder with the given flags and internal date."""
        with self._guard(f"APPEND to {folder}") as client:
            client.append(folder, raw, flags=tuple(flags), msg_time=when)

    # IDLE (RFC 2177): the sync's watcher waits on its own connection for new mail.

    def idle_supported(self) -> bool:
        """Whether the server offers IDLE."""
        with self._guard("CAPABILITY") as client:
            return bool(client.has_capability("IDLE"))

    def idle_start(self, folder: str) -> None:
        """EXAMINE the folder and enter IDLE: the server reports changes as they happen."""
        self.select(folder)
        with self._guard(f"IDLE {folder}") as client:
            client.idle()

    def idle_poll(self, timeout: float) -> list[tuple[Any, ...]]:
        """What the server said in IDLE within ``timeout`` seconds: [] when it was quiet.

        imapclient returns [] at once, without an error, on a connection the server closed;
        so a readable socket that gave no response is reported as a lost connection.
        """
        with self._guard("IDLE") as client:
            sock = client.socket()
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            readable = bool(poller.poll(timeout * 1000))
            responses = [tuple(r) for r in client.idle_check(timeout=0)] if readable else []
        self._empty = self._empty + 1 if readable and not responses else 0
        if self._empty and self._closed(sock, self._empty):
            self._drop()
            raise SyncError(f"{self._where}: connection closed by the server during IDLE")
        if any(r and r[0] == b"BYE" for r in responses):
            self._drop()
            raise SyncError(f"{self._where}: the server ended the connection (BYE) during IDLE")
        return responses

    @staticmethod
    def _closed(sock: Any, empty: int) -> bool:
        """Whether the peer closed a socket that was readable ``empty`` times with no response."""
        if isinstance(sock, ssl.SSLSocket):  # no peeking under TLS: a record that is no data
            return empty >= 3  # (a session ticket) comes once, an EOF comes every time
        try:
            return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"")
        except BlockingIOError:
            return False
        except OSError:
            return True

    def idle_end(self) -> None:
        """Leave IDLE (DONE); a connection that died silently fails here, after the timeout."""
        with self._guard("DONE") as client:
            client.idle_done()

    def noop(self) -> None:
        """NOOP: proves the connection still carries commands."""
        with self._guard("NOOP") as client:
            client.noop()

    def close(self) -> None:
        """Log out; never raises."""
        client, self._client, self._selected = self._client, None, None
        if client is None:
            return
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            try:
                client.shutdown()
            except OSError:
                pass


class _Fixed:
    """A token given as it is: it cannot be refreshed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self, refused: str | None = None) -> str:
        return self._token


def _special(listing: list[tuple[tuple[bytes, ...], str]], flag: bytes) -> str | None:
    """Return the first folder carrying a special-use flag."""
    return next((name for flags, name in listing if flag in flags), None)


def _section(data: dict[bytes, Any], prefix: bytes) -> bytes:
    """Return the fetched section whose key starts with ``prefix`` (servers echo it their way)."""
    for key, value in data.items():
        if isinstance(key, bytes) and key.upper().startswith(prefix):
            return bytes(value or b"")
    return b""


def _batches(uids: Sequence[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    """Group UIDs so one FETCH asks for at most BODY_BATCH_BYTES (and UID_CHUNK messages)."""
    batch: list[int] = []
    total = 0
    for uid in sorted(uids):
        if batch and (total + sizes[uid] > BODY_BATCH_BYTES or len(batch) >= UID_CHUNK):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += sizes[uid]
    if batch:
        yield batch
