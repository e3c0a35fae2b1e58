"""Reviewers who log in to the web UI: argon2 hashes, sessions, API tokens, the signing secret.

A browser session is a row in ``web_sessions``: the cookie carries a random id, the store
only its SHA-256, so reading the database yields no usable cookie. Logging out, a new
password and removing the user delete the rows, which ends the sessions wherever their
cookies are replayed.

An API token is the username and a fingerprint of the user's password hash, signed with the
web secret: changing the password (or the secret) revokes every token issued before. The
secret never lives in the store (see ``web_secret``).

Who did it, in the audit log (``events.actor``) and on drafts (``approved_by``, a revision's
author): a person is always named by their reviewer username, the name they log in to the
web UI with, whichever shell they used; automation by one of the ``Automation`` names. The
command line is a person: it acts as ``--as NAME`` (or ``$OUTREACH_REVIEWER``), else as the
only reviewer there is (``acting_reviewer``), never as the operating system's login, which
on a server is "root" for everyone. Administration that needs no person (``outreach init``,
importing candidates) records ``Automation.COMMAND_LINE``.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from outreach.config import outreach_home, secret
from outreach.errors import ConfigError, InputError, NotFound
from outreach.store import Store
from outreach.store.models import Event, User, WebSession, utcnow


class Automation(StrEnum):
    """The names automation writes in the audit log; a person's events carry their username."""

    COMMAND_LINE = "cli"  # administration at the command line that names no reviewer
    INIT = "init"
    DEMO = "demo"
    DRAFTING = "drafting"
    SENDER = "sender"
    SYNC = "sync"
    SCHEDULER = "scheduler"
    SIGNIN = "signin"


USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
MIN_PASSWORD = 10
SECRET_FILE = "web_secret"
_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as for a known one.
_DUMMY_HASH = _hasher.hash("not a real password")


def generate_password() -> str:
    """A random password that is easy to copy: 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


def check_username(name: str) -> str:
    """The name if it is a valid username, else InputError saying what is allowed."""
    if not USERNAME.fullmatch(name):
        raise InputError(
            f"username {name!r}: use letters, digits and . _ @ - (up to 100), starting with a "
            "letter or digit"
        )
    return name


def add_user(
    session: Session, name: str, password: str, *, actor: str = Automation.COMMAND_LINE
) -> User:
    """Create a reviewer with an argon2 hash of the password."""
    check_username(name)
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password for {name}: use at least {MIN_PASSWORD} characters")
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise InputError(f"user {name} exists already; choose another name")
    user = User(username=name, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    session.add(Event(actor=actor, action="user.added", subject_type="user", subject_id=user.id))
    return user


def set_password(
    session: Session, name: str, password: str, *, actor: str = Automation.COMMAND_LINE
) -> None:
    """Replace a reviewer's password: their sessions end and their API tokens stop working."""
    user = get_user(session, name)
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password for {name}: use at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(password)
    ended = end_sessions(session, user)
    session.add(
        Event(
            actor=actor,
            action="user.password",
            subject_type="user",
            subject_id=user.id,
            details={"sessions_ended": ended},
        )
    )


def remove_user(session: Session, name: str, *, actor: str = Automation.COMMAND_LINE) -> None:
    """Remove a reviewer: their sessions end and their API tokens stop working."""
    user = get_user(session, name)
    ended = end_sessions(session, user)
    session.delete(user)
    session.add(
        Event(
            actor=actor,
            action="user.removed",
            subject_type="user",
            subject_id=user.id,
            details={"username": name, "sessions_ended": ended},
        )
    )


def get_user(session: Session, name: str) -> User:
    """The user with this name; NotFound when there is none."""
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        raise NotFound(f"no user {name}; add one with `outreach user add {name}`")
    return user


def acting_reviewer(session: Session, named: str | None) -> str:
    """The reviewer a command acts as: the one named, else the only one; InputError otherwise."""
    if named:
        get_user(session, check_username(named))
        return named
    names = list(session.scalars(select(User.username).order_by(User.username).limit(2)))
    if len(names) == 1:
        return names[0]
    if not names:
        raise InputError("no reviewer yet; add one with `outreach user add NAME`")
    raise InputError(
        "several reviewers: say which you are with --as NAME or OUTREACH_REVIEWER=NAME"
    )


def count_users(session: Session) -> int:
    """How many reviewers exist."""
    return int(session.scalar(select(func.count(User.id))) or 0)


def sign_in(store: Store, name: str, password: str, *, hours: int) -> str | None:
    """Check the password and open a session; its id, or None when they do not match.

    The hash is checked outside any transaction: argon2 takes a core for a second or more at
    high cost settings, and on SQLite a write transaction would hold the store's write lock
    (and every writer behind it) for that long.
    """
    with store.read() as session:
        known = session.execute(
            select(User.id, User.password_hash).where(User.username == name)
        ).first()
    stored = known.password_hash if known else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if known is None:
        return None
    with store.session() as session:
        user = session.get(User, known.id)
        if user is None or user.password_hash != stored:  # removed or changed meanwhile
            return None
        if _hasher.check_needs_rehash(stored):
            user.password_hash = _hasher.hash(password)
        return start_session(session, user, hours=hours)


def _session_key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(session: Session, user: User, *, hours: int) -> str:
    """Open a session for the user; returns its id for the cookie (the store keeps a hash)."""
    now = utcnow()
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id_hash=_session_key(session_id),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    session.add(
        Event(actor=user.username, action="user.login", subject_type="user", subject_id=user.id)
    )
    return session_id


def session_user(session: Session, session_id: str) -> str | None:
    """The username of a live session, else None (logged out, expired, revoked or unknown)."""
    row = session.execute(
        select(User.username, WebSession.expires_at)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.id_hash == _session_key(session_id))
    ).first()
    if row is None or row.expires_at <= utcnow():
        return None
    return str(row.username)


def end_session(session: Session, session_id: str) -> None:
    """End one session (logout)."""
    session.execute(delete(WebSession).where(WebSession.id_hash == _session_key(session_id)))


def end_sessions(session: Session, user: User) -> int:
    """End every session of the user; returns how many there were."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def web_secret() -> str:
    """The key that signs session cookies and API tokens; never kept in the store.

    OUTREACH_WEB_SECRET, else ``web_secret`` in the keys file, else a random key made on first
    use in ``web_secret`` under OUTREACH_HOME (mode 0600). Servers sharing a PostgreSQL store
    must share the key too: set the variable or the keys file on each.
    """
    configured = secret("OUTREACH_WEB_SECRET", "web_secret")
    if configured:
        return configured
    path = outreach_home() / SECRET_FILE
    if not path.exists():
        _make_secret_file(path)
    return _read_secret_file(path)


def _make_secret_file(path: Path) -> None:
    """Write a new random key, atomically: a racing process either wins or reads ours."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first; use theirs
        finally:
            draft.unlink()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot write the web signing key ({exc.strerror}); make {path.parent} "
            "writable or set OUTREACH_WEB_SECRET"
        ) from None


def _read_secret_file(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{path}: readable by others (mode {mode:o}); run `chmod 600 {path}` to protect it"
        )
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < 32:
        raise ConfigError(
            f"{path}: the web signing key is missing or shorter than 32 characters; delete the "
            "file to have a new one made (every session and API token then ends)"
        )
    return value


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def issue_token(session: Session, key: str, name: str) -> str:
    """An API token for this user (sent as `Authorization: Bearer TOKEN`)."""
    user = get_user(session, name)
    return URLSafeSerializer(key, salt="api-token").dumps(
        {"u": user.username, "f": _fingerprint(user)}
    )


def user_for_token(session: Session, key: str, token: str) -> User | None:
    """The user a valid token belongs to, else None."""
    try:
        data = URLSafeSerializer(key, salt="api-token").loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user = session.scalar(select(User).where(User.username == str(data.get("u"))))
    if user is None or not secrets.compare_digest(str(data.get("f")), _fingerprint(user)):
        return None
    return user
