"""The Mailbox interface over a local Maildir (the demo, and mbsync or offlineimap users).

Maildir has no UIDs, so outreach keeps a UID map in a state directory of its own and never
writes inside the user's Maildir except in ``append()``. A message's key is its file name up to
the ``:2,`` flags, which stays put when a mail client moves it from new/ to cur/ or changes its
flags. UIDs are handed out in arrival order and never reused; the UIDVALIDITY is fixed when the
map is created, so it changes only if the map is lost. Folders follow Maildir++: INBOX is the
root, ``Sent`` lives in ``.Sent`` and ``A/B`` in ``.A.B``. Bytes are returned with CRLF line
ends, as an IMAP server would return them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import socket
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr, parsedate_to_datetime
from itertools import count
from pathlib import Path
from typing import Any

from outreach.errors import ConfigError, SyncError
from outreach.servers.mailbox import (
    HEADER_FIELDS,
    FetchedBody,
    FolderState,
    HeaderItem,
    Mailbox,
    message_id_of,
    same_message_id,
)

SENT_NAMES = ("Sent", "Sent Messages", "Sent Items", "Sent Mail", "INBOX.Sent")
_FLAG_LETTERS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}
_WANTED = {name.lower() for name in HEADER_FIELDS}
_BARE_LF = re.compile(rb"(?<!\r)\n")
_append_counter = count(1)


def crlf(data: bytes) -> bytes:
    """Turn bare LF line ends into CRLF."""
    return _BARE_LF.sub(b"\r\n", data)


def split_message(raw: bytes) -> tuple[bytes, bytes]:
    """Split CRLF bytes into the header block (with its blank line) and the body."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return raw, b""
    return raw[: end + 4], raw[end + 4 :]


def header_fields(header: bytes) -> bytes:
    """Keep the HEADER_FIELDS lines of a CRLF header block, as HEADER.FIELDS returns them."""
    kept: list[bytes] = []
    keep = False
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        keep = line.split(b":", 1)[0].strip().lower().decode("ascii", "replace") in _WANTED
        if keep:
            kept.append(line)
    return b"".join(line + b"\r\n" for line in kept) + b"\r\n"


class MaildirMailbox(Mailbox):
    """A Maildir read in place, with UIDs kept in ``state_dir``."""

    def __init__(
        self, path: Path | str, state_dir: Path | str, *, folders: Sequence[str] | None = None
    ) -> None:
        self._root = Path(path).expanduser()
        if not all((self._root / sub).is_dir() for sub in ("cur", "new")):
            raise ConfigError(f"{self._root} is not a Maildir (no cur/ and new/): check the path")
        state = Path(state_dir).expanduser()
        state.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(str(self._root.resolve()).encode()).hexdigest()[:16]
        self._map_path = state / f"maildir-uids-{digest}.json"
        self._folders = list(folders) if folders else None
        self._map = self._load_map()

    def _load_map(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._map_path.read_text())
        except FileNotFoundError:
            # Random, not the clock: a map rebuilt within the same second must still differ.
            uidvalidity = secrets.randbelow(2**31 - 1) + 1
            data = {"path": str(self._root), "uidvalidity": uidvalidity, "folders": {}}
            self._save_map(data)
        except (OSError, ValueError) as exc:
            raise SyncError(f"{self._map_path}: unreadable UID map ({exc}): delete it") from exc
        return data

    def _save_map(self, data: dict[str, Any]) -> None:
        tmp = self._map_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # names of mail files
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, self._map_path)

    def _dir(self, folder: str) -> Path:
        if folder.upper() == "INBOX":
            return self._root
        path = self._root / ("." + folder.replace("/", "."))
        if not (path / "cur").is_dir():
            raise SyncError(f"maildir {self._root}: no folder {folder!r} ({path.name} missing)")
        return path

    def _files(self, folder: str) -> dict[str, Path]:
        """Return the folder's messages by key (file name without the flags)."""
        base = self._dir(folder)
        files: dict[str, Path] = {}
        for sub in ("new", "cur"):
            for entry in os.scandir(base / sub):
                if not entry.name.startswith(".") and entry.is_file():
                    files[entry.name.split(":", 1)[0]] = Path(entry.path)
        return files

    def _refresh(self, folder: str) -> dict[int, Path]:
        """Give new messages UIDs, forget vanished ones and return the folder by UID."""
        files = self._files(folder)
        changed = folder not in self._map["folders"]
        state = self._map["folders"].setdefault(folder, {"uidnext": 1, "uids": {}})
        uids: dict[str, int] = state["uids"]
        for key in [key for key in uids if key not in files]:
            del uids[key]
            changed = True
        fresh = [key for key in files if key not in uids]
        for key in sorted(fresh, key=lambda k: (files[k].stat().st_mtime, k)):
            uids[key] = state["uidnext"]
            state["uidnext"] += 1
            changed = True
        if changed:
            self._save_map(self._map)
        return {uid: files[key] for key, uid in uids.items()}

    def _read(self, folder: str, uids: Sequence[int]) -> dict[int, tuple[Path, bytes]]:
        by_uid = self._refresh(folder)
        out: dict[int, tuple[Path, bytes]] = {}
        for uid in sorted(set(uids)):
            path = by_uid.get(uid)
            if path is None:
                continue
            try:
                out[uid] = (path, crlf(path.read_bytes()))
            except FileNotFoundError:
                continue  # moved or expunged by the mail client since the scan
        return out

    def folders(self) -> list[str]:
        """Return INBOX and the Sent folder, or the folders given at construction."""
        if self._folders is not None:
            return list(self._folders)
        sent = self.sent_folder()
        return ["INBOX"] if sent is None else ["INBOX", sent]

    def sent_folder(self) -> str | None:
        """Return the first Maildir++ folder named like a Sent folder."""
        for name in SENT_NAMES:
            if (self._root / ("." + name) / "cur").is_dir():
                return name.replace(".", "/")
        return None

    def select(self, folder: str) -> FolderState:
        """Scan a folder and report its state (no HIGHESTMODSEQ for Maildir)."""
        by_uid = self._refresh(folder)
        state = self._map["folders"][folder]
        return FolderState(
            name=folder,
            uidvalidity=int(self._map["uidvalidity"]),
            uidnext=int(state["uidnext"]),
            highestmodseq=None,
            exists=len(by_uid),
        )

    def uids_after(self, folder: str, last_uid: int, since: date | None) -> list[int]:
        """Return UIDs above ``last_uid`` whose file date is on or after ``since``."""
        found = []
        for uid, path in self._refresh(folder).items():
            if uid <= last_uid:
                continue
            if since is not None:
                try:
                    day = datetime.fromtimestamp(path.stat().st_mtime).date()
                except FileNotFoundError:
                    continue
                if day < since:
                    continue
            found.append(uid)
        return sorted(found)

    def fetch_headers(self, folder: str, uids: Sequence[int]) -> list[HeaderItem]:
        """Read the header fields, size and file date of messages, in UID order."""
        items = []
        for uid, (path, raw) in self._read(folder, uids).items():
            header, _ = split_message(raw)
            mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            items.append(HeaderItem(uid, len(raw), mtime, header_fields(header)))
        return items

    def fetch_bodies(
        self, folder: str, uids: Sequence[int], max_bytes: int
    ) -> dict[int, FetchedBody]:
        """Read whole messages; over ``max_bytes``, the header and the body's first bytes."""
        bodies = {}
        for uid, (_, raw) in self._read(folder, uids).items():
            if len(raw) <= max_bytes:
                bodies[uid] = FetchedBody(raw, len(raw), truncated=False)
            else:
                header, body = split_message(raw)
                bodies[uid] = FetchedBody(header + body[:max_bytes], len(raw), truncated=True)
        return bodies

    def search_message_id(self, folder: str, message_id: str) -> list[int]:
        """Return the UIDs whose Message-ID is exactly ``message_id`` (reads every header)."""
        found = []
        for uid, path in self._refresh(folder).items():
            try:
                with path.open("rb") as handle:
                    header = _read_header(handle)
            except FileNotFoundError:
                continue
            if same_message_id(message_id_of(header), message_id):
                found.append(uid)
        return sorted(found)

    def search_from(self, folder: str, address: str, since: date) -> list[int]:
        """UIDs of messages from this address dated on or after `since` (reads every header)."""
        wanted = address.strip().lower()
        found = []
        for uid, path in self._refresh(folder).items():
            try:
                with path.open("rb") as handle:
                    header = BytesHeaderParser(policy=compat32).parsebytes(_read_header(handle))
            except FileNotFoundError:
                continue
            sender = parseaddr(str(header.get("From", "")))[1].lower()
            try:
                when = parsedate_to_datetime(str(header.get("Date", "")))
            except (TypeError, ValueError):
                when = None
            if sender == wanted and (when is None or when.date() >= since):
                found.append(uid)
        return sorted(found)

    def append(
        self,
        folder: str,
        raw: bytes,
        flags: Sequence[str] = ("\\Seen",),
        when: datetime | None = None,
    ) -> None:
        """Write a message into the folder's cur/ (via tmp/, as Maildir requires)."""
        base = self._dir(folder)
        now = time.time()
        key = (
            f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(_append_counter)}"
            f".{socket.gethostname().replace('/', '_').replace(':', '_')}"
        )
        letters = "".join(sorted(_FLAG_LETTERS[f] for f in flags if f in _FLAG_LETTERS))
        tmp = base / "tmp" / key
        tmp.parent.mkdir(exist_ok=True)
        try:
            tmp.write_bytes(raw)
            if when is not None:
                stamp = when.timestamp()
                os.utime(tmp, (stamp, stamp))
            os.rename(tmp, base / "cur" / f"{key}:2,{letters}")
        except OSError as exc:
            raise SyncError(f"maildir {base}: cannot append: {exc.strerror}") from exc
        self._refresh(folder)

    def close(self) -> None:
        """Nothing to release: files are opened per call."""


def _read_header(handle: Any) -> bytes:
    """Read a file up to its blank line, returned with CRLF line ends."""
    lines = []
    for line in handle:
        if line in (b"\n", b"\r\n"):
            break
        lines.append(line)
    return crlf(b"".join(lines)) + b"\r\n"
