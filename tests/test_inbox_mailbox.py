"""The mailbox layer against a real Dovecot and a real Maildir, through the same interface."""

from __future__ import annotations

import mailbox as stdlib_mailbox
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import imapclient
import pytest

from outreach.config import is_loopback
from outreach.errors import ConfigError, SyncError
from outreach.servers.imap import ImapMailbox
from outreach.servers.mailbox import Mailbox
from outreach.servers.maildir import MaildirMailbox

if TYPE_CHECKING:
    from tests.services.dovecot import Dovecot

pytest_plugins = ["tests.services.dovecot"]  # the dovecot fixture, until conftest.py loads it

OLD = datetime(2020, 1, 15, 12, 0, tzinfo=UTC)


def message(n: int | str, body: str = "Hello, thanks for reaching out.\n", **headers: str) -> bytes:
    """Build a small LF-terminated message, as mail clients store them."""
    fields = {
        "From": "Ana Candidate <ana@example.org>",
        "To": "Maria Recruiter <maria@example.test>",
        "Subject": f"Re: Backend role {n}",
        "Date": "Tue, 25 Nov 2025 10:00:00 +0100",
        "Message-ID": f"<msg{n}@example.org>",
        "Received": "from mx.example.org by mx.example.test; Tue, 25 Nov 2025 10:00:01 +0100",
        "X-Mailer": "Tests",
    }
    fields.update({k.replace("_", "-"): v for k, v in headers.items()})
    head = "".join(f"{k}: {v}\n" for k, v in fields.items())
    return (head + "\n" + body).encode()


@dataclass
class Box:
    """A mailbox under test and the hands of the mail system that fills it."""

    kind: str
    user: str
    mailbox: Mailbox
    deliver_many: Callable[[list[bytes], str, datetime | None], None]
    seen: Callable[[str], set[int]]  # UIDs that carry \Seen in a folder
    snapshot: Callable[[], list[str]]  # what is stored, to show reads change nothing

    def deliver(self, raw: bytes, folder: str = "INBOX", when: datetime | None = None) -> None:
        self.deliver_many([raw], folder, when)


def _imap_box(server: Dovecot) -> Iterator[Box]:
    user = server.new_user()
    box = ImapMailbox(
        host=server.host,
        port=server.port,
        security="none",
        username=user,
        password=server.password,
    )

    def deliver_many(raws: list[bytes], folder: str, when: datetime | None) -> None:
        if folder == "INBOX" and when is None and len(raws) == 1:
            server.deliver(user, raws[0])  # LMTP, like real mail
        else:
            server.append_many(user, raws, folder, when=when)

    def seen(folder: str) -> set[int]:
        client = imapclient.IMAPClient(server.host, server.port, ssl=False)
        try:
            client.login(user, server.password)
            client.select_folder(folder, readonly=True)
            return {int(uid) for uid in client.search(["SEEN"])}
        finally:
            client.logout()

    def snapshot() -> list[str]:
        root = server.maildir_path(user)
        return sorted(
            str(p.relative_to(root)) for p in root.rglob("*") if p.parent.name in {"cur", "new"}
        )

    try:
        yield Box("imap", user, box, deliver_many, seen, snapshot)
    finally:
        box.close()


def _maildir_box(tmp_path: Path) -> Iterator[Box]:
    root = tmp_path / "Maildir"
    inbox = stdlib_mailbox.Maildir(root, create=True)
    for name in ("Sent", "Drafts", "Trash"):
        stdlib_mailbox.Maildir(root / f".{name}", create=True)
    box = MaildirMailbox(root, tmp_path / "state")

    def deliver_many(raws: list[bytes], folder: str, when: datetime | None) -> None:
        target = inbox if folder == "INBOX" else stdlib_mailbox.Maildir(root / f".{folder}")
        for raw in raws:
            key = target.add(raw)
            if when is not None:
                path = next((root if folder == "INBOX" else root / f".{folder}").rglob(f"{key}*"))
                os.utime(path, (when.timestamp(), when.timestamp()))

    def seen(folder: str) -> set[int]:
        base = root if folder == "INBOX" else root / f".{folder}"
        found: set[int] = set()
        for path in (base / "cur").iterdir():
            if "S" in path.name.partition(":2,")[2]:
                msgid = stdlib_mailbox.MaildirMessage(path.read_bytes())["Message-ID"]
                found.update(box.search_message_id(folder, msgid))
        return found

    def snapshot() -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    yield Box("maildir", str(root), box, deliver_many, seen, snapshot)
    box.close()


@pytest.fixture(params=[pytest.param("imap", marks=pytest.mark.dovecot), "maildir"])
def box(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Box]:
    if request.param == "imap":
        yield from _imap_box(request.getfixturevalue("dovecot"))
    else:
        yield from _maildir_box(tmp_path)


def test_folders_are_inbox_and_the_sent_folder(box: Box) -> None:
    assert box.mailbox.folders() == ["INBOX", "Sent"]
    assert box.mailbox.sent_folder() == "Sent"


def test_select_reports_the_folder_state(box: Box) -> None:
    empty = box.mailbox.select("INBOX")
    for n in range(3):
        box.deliver(message(n))
    state = box.mailbox.select("INBOX")
    assert (state.name, state.exists, state.uidnext) == ("INBOX", 3, 4)
    assert state.uidvalidity == empty.uidvalidity > 0
    if box.kind == "imap":
        assert isinstance(state.highestmodseq, int) and state.highestmodseq > 0
    else:
        assert state.highestmodseq is None


def test_reading_leaves_the_mailbox_unchanged(box: Box) -> None:
    box.deliver(message(1))
    box.deliver(message(2))
    before = box.snapshot()
    uids = box.mailbox.uids_after("INBOX", 0, None)
    assert len(box.mailbox.fetch_headers("INBOX", uids)) == 2
    assert len(box.mailbox.fetch_bodies("INBOX", uids, max_bytes=100_000)) == 2
    assert box.mailbox.search_message_id("INBOX", "<msg1@example.org>") == [uids[0]]
    assert box.seen("INBOX") == set()
    assert box.snapshot() == before


def test_uids_after_returns_only_newer_uids(box: Box) -> None:
    for n in range(3):
        box.deliver(message(n))
    assert box.mailbox.uids_after("INBOX", 0, None) == [1, 2, 3]
    assert box.mailbox.uids_after("INBOX", 2, None) == [3]
    assert box.mailbox.uids_after("INBOX", 3, None) == []
    assert box.mailbox.uids_after("INBOX", 50, None) == []


def test_first_run_starts_from_a_date(box: Box) -> None:
    box.deliver(message("old"), when=OLD)
    box.deliver(message("new"))
    recent = box.mailbox.uids_after("INBOX", 0, date.today() - timedelta(days=7))
    assert [h.header_bytes for h in box.mailbox.fetch_headers("INBOX", recent)] == [
        h.header_bytes
        for h in box.mailbox.fetch_headers("INBOX", box.mailbox.uids_after("INBOX", 1, None))
    ]
    assert len(box.mailbox.uids_after("INBOX", 0, date(2019, 1, 1))) == 2
    old = box.mailbox.fetch_headers("INBOX", [1])[0]
    assert old.internaldate is not None and old.internaldate.date() == OLD.date()


def test_headers_of_many_messages_arrive_in_chunks(box: Box) -> None:
    box.deliver_many([message(n) for n in range(1200)], "INBOX", None)
    uids = box.mailbox.uids_after("INBOX", 0, None)
    assert uids == list(range(1, 1201))
    items = box.mailbox.fetch_headers("INBOX", uids)
    assert [item.uid for item in items] == uids
    assert b"Message-ID: <msg1199@example.org>\r\n" in items[-1].header_bytes
    assert all(f"Backend role {i.uid - 1}\r\n".encode() in i.header_bytes for i in items)


def test_headers_hold_only_the_fields_asked_for(box: Box) -> None:
    raw = message(7, Subject="A subject that is long\n and folded", Auto_Submitted="auto-replied")
    box.deliver(raw, "Sent", None)
    [item] = box.mailbox.fetch_headers("Sent", [1])
    assert item.uid == 1
    assert item.size == len(raw.replace(b"\n", b"\r\n"))
    assert item.internaldate is not None and item.internaldate.tzinfo is not None
    assert b"Subject: A subject that is long\r\n and folded\r\n" in item.header_bytes
    assert b"Auto-Submitted: auto-replied\r\n" in item.header_bytes
    assert b"Received:" not in item.header_bytes and b"X-Mailer" not in item.header_bytes
    assert item.header_bytes.endswith(b"\r\n\r\n") and b"Hello" not in item.header_bytes


@pytest.mark.dovecot
def test_both_implementations_return_the_same_bytes(dovecot: Dovecot, tmp_path: Path) -> None:
    raw = message(3, body="x" * 5000 + "\n", Subject="Same\n bytes")
    results = []
    for made in (_imap_box(dovecot), _maildir_box(tmp_path)):
        box = next(made)
        box.deliver(raw, "Sent", None)
        results.append(
            (
                [(h.uid, h.size, h.header_bytes) for h in box.mailbox.fetch_headers("Sent", [1])],
                box.mailbox.fetch_bodies("Sent", [1], max_bytes=100_000),
                box.mailbox.fetch_bodies("Sent", [1], max_bytes=1000),
            )
        )
        made.close()
    assert results[0] == results[1]


def test_bodies_whole_or_truncated(box: Box) -> None:
    small = message("small")
    large = message("large", body="line of a long attachment\n" * 400)
    box.deliver(small, "Sent", None)
    box.deliver(large, "Sent", None)
    bodies = box.mailbox.fetch_bodies("Sent", [1, 2, 99], max_bytes=2000)
    assert sorted(bodies) == [1, 2]
    assert bodies[1].raw == small.replace(b"\n", b"\r\n") and not bodies[1].truncated
    whole = large.replace(b"\n", b"\r\n")
    head_end = whole.index(b"\r\n\r\n") + 4
    assert bodies[2].truncated and bodies[2].size == len(whole)
    assert bodies[2].raw == whole[: head_end + 2000]


def test_search_message_id_matches_exactly(box: Box) -> None:
    box.deliver(message(1, Message_ID="<a1@x>"))
    box.deliver(message(2, Message_ID="<a12@x>"))
    box.deliver(message(3, Message_ID="<b@x>", References="<a1@x>"))
    assert box.mailbox.search_message_id("INBOX", "<a1@x>") == [1]
    assert box.mailbox.search_message_id("INBOX", "<a12@x>") == [2]
    assert box.mailbox.search_message_id("INBOX", "<a@x>") == []


def test_append_files_a_seen_copy_that_search_finds(box: Box) -> None:
    raw = message("sent", Message_ID="<out-1@example.test>").replace(b"\n", b"\r\n")
    assert box.mailbox.search_message_id("Sent", "<out-1@example.test>") == []
    box.mailbox.append("Sent", raw, when=OLD)
    [uid] = box.mailbox.search_message_id("Sent", "<out-1@example.test>")
    assert box.seen("Sent") == {uid}
    [item] = box.mailbox.fetch_headers("Sent", [uid])
    assert item.internaldate == OLD
    assert box.mailbox.fetch_bodies("Sent", [uid], 100_000)[uid].raw == raw


def test_maildir_uid_map_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    stdlib_mailbox.Maildir(root, create=True).add(b"Subject: hi\r\n\r\nbody\r\n")
    old = os.umask(0o022)  # what a default umask would give the file: 0644
    try:
        MaildirMailbox(root, tmp_path / "state").select("INBOX")
    finally:
        os.umask(old)
    (uid_map,) = (tmp_path / "state").glob("maildir-uids-*.json")
    assert uid_map.stat().st_mode & 0o777 == 0o600


def test_missing_folder_is_a_sync_error(box: Box) -> None:
    with pytest.raises(SyncError, match="Nowhere"):
        box.mailbox.select("Nowhere")


@pytest.mark.dovecot
def test_gmail_syncs_all_mail_alone(dovecot: Dovecot) -> None:
    made = _imap_box(dovecot)
    box = next(made)
    client = imapclient.IMAPClient(dovecot.host, dovecot.port, ssl=False)
    client.login(box.user, dovecot.password)
    for name in ("[Gmail]/All Mail", "[Gmail]/Sent Mail"):
        client.create_folder(name)
    client.logout()
    assert box.mailbox.folders() == ["[Gmail]/All Mail"]
    made.close()


def _new_maildir(root: Path) -> Path:
    stdlib_mailbox.Maildir(root, create=True)
    return root


@pytest.mark.parametrize("kind", [pytest.param("imap", marks=pytest.mark.dovecot), "maildir"])
def test_configured_folders_win(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if kind == "imap":
        server = request.getfixturevalue("dovecot")
        mailbox: Mailbox = ImapMailbox(
            host=server.host,
            port=server.port,
            security="none",
            username=server.new_user(),
            password=server.password,
            folders=["INBOX", "Drafts"],
        )
    else:
        mailbox = MaildirMailbox(
            _new_maildir(tmp_path / "m"),
            tmp_path / "state",
            folders=["INBOX", "Drafts"],
        )
    with mailbox:
        assert mailbox.folders() == ["INBOX", "Drafts"]


@pytest.mark.dovecot
def test_uidvalidity_change_is_visible(dovecot: Dovecot) -> None:
    made = _imap_box(dovecot)
    box = next(made)
    box.deliver(message(1))
    before = box.mailbox.select("INBOX").uidvalidity
    dovecot.set_uidvalidity(box.user, "INBOX", before + 1000)
    after = box.mailbox.select("INBOX")
    assert after.uidvalidity == before + 1000 and after.exists == 1
    made.close()


@pytest.mark.dovecot
def test_dropped_connection_is_a_sync_error(dovecot: Dovecot) -> None:
    made = _imap_box(dovecot)
    box = next(made)
    box.deliver(message(1))
    assert box.mailbox.uids_after("INBOX", 0, None) == [1]
    dovecot.kill_connections(box.user)
    with pytest.raises(SyncError) as lost:
        box.mailbox.fetch_headers("INBOX", [1])
    assert str(lost.value).startswith(f"imap 127.0.0.1:{dovecot.port}: connection lost during")
    with pytest.raises(SyncError, match="connection closed"):
        box.mailbox.select("INBOX")
    made.close()


@pytest.mark.dovecot
def test_wrong_password_is_a_sync_error_without_the_password(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    with pytest.raises(SyncError) as failed:
        ImapMailbox(
            host=dovecot.host,
            port=dovecot.port,
            security="none",
            username=user,
            password="wrong-secret-9",
        )
    text = str(failed.value)
    assert text.startswith(f"imap 127.0.0.1:{dovecot.port}: login failed for {user}")
    assert "check imap.username and OUTREACH_IMAP_PASSWORD" in text
    assert "wrong-secret-9" not in text and "\n" not in text


@pytest.mark.dovecot
def test_starttls_to_a_server_without_it_is_a_sync_error(dovecot: Dovecot) -> None:
    with pytest.raises(SyncError, match="STARTTLS"):
        ImapMailbox(
            host=dovecot.host,
            port=dovecot.port,
            security="starttls",
            username=dovecot.user,
            password=dovecot.password,
        )


@pytest.mark.parametrize("host", ["imap.example.com", "10.0.0.1", "192.168.1.20", "::2"])
def test_plaintext_to_a_remote_host_is_refused(host: str) -> None:
    with pytest.raises(ConfigError, match="clear text"):
        ImapMailbox(host=host, port=143, security="none", username="m", password="p")


def test_unknown_security_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="imap.security"):
        ImapMailbox(host="127.0.0.1", port=143, security="ssl", username="m", password="p")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("localhost", True),
        ("localhost.example.com", False),
        ("10.0.0.1", False),
        ("imap.example.com", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_refused_connection_is_a_sync_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SyncError, match=f"imap 127.0.0.1:{port}: cannot connect: .*refused"):
        ImapMailbox(host="127.0.0.1", port=port, security="none", username="m", password="p")


def test_silent_server_times_out_as_a_sync_error() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the TCP connection but never greets
        port = listener.getsockname()[1]
        with pytest.raises(SyncError, match="timed out"):
            ImapMailbox(
                host="127.0.0.1",
                port=port,
                security="none",
                username="m",
                password="p",
                timeout=0.3,
            )


def test_maildir_uids_survive_client_moves_and_are_never_reused(tmp_path: Path) -> None:
    made = _maildir_box(tmp_path)
    box = next(made)
    for n in range(3):
        box.deliver(message(n))
    first = box.mailbox.select("INBOX")
    # A mail client reads message 1 (new/ -> cur/ with flags) and deletes message 2.
    root = tmp_path / "Maildir"
    inbox = stdlib_mailbox.Maildir(root)
    by_id = {inbox[key]["Message-ID"]: key for key in inbox.keys()}
    read = inbox[by_id["<msg0@example.org>"]]
    read.set_subdir("cur")
    read.add_flag("S")
    inbox[by_id["<msg0@example.org>"]] = read
    inbox.remove(by_id["<msg1@example.org>"])
    box.deliver(message(3))
    again = MaildirMailbox(root, tmp_path / "state")
    assert again.search_message_id("INBOX", "<msg0@example.org>") == [1]
    assert again.uids_after("INBOX", 0, None) == [1, 3, 4]
    assert again.select("INBOX") == first.__class__("INBOX", first.uidvalidity, 5, None, 3)
    lost = MaildirMailbox(root, tmp_path / "other-state")
    assert lost.select("INBOX").uidvalidity != first.uidvalidity
    assert lost.uids_after("INBOX", 0, None) == [1, 2, 3]
    made.close()


def test_maildir_path_must_be_a_maildir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a Maildir"):
        MaildirMailbox(tmp_path, tmp_path / "state")
