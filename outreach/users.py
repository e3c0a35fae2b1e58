"""Reviewers who log in to the web UI: argon2 password hashes, API tokens, the signing secret.

An API token is the username and a fingerprint of the user's password hash, signed with the
web secret: changing the password (or the secret) revokes every token issued before.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .config import secret
from .errors import InputError, NotFound
from .store import Store
from .store.models import Event, Meta, User

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
MIN_PASSWORD = 10
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


def add_user(session: Session, name: str, password: str, *, actor: str = "cli") -> User:
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


def set_password(session: Session, name: str, password: str, *, actor: str = "cli") -> None:
    """Replace a reviewer's password (this also revokes their API tokens)."""
    user = get_user(session, name)
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password for {name}: use at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(password)
    session.add(Event(actor=actor, action="user.password", subject_type="user", subject_id=user.id))


def get_user(session: Session, name: str) -> User:
    """The user with this name; NotFound when there is none."""
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        raise NotFound(f"no user {name}; add one with `outreach user add {name}`")
    return user


def count_users(session: Session) -> int:
    """How many reviewers exist."""
    return int(session.scalar(select(func.count(User.id))) or 0)


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user when the password is right, else None (same work either way)."""
    user = session.scalar(select(User).where(User.username == name))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is not None and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def web_secret(store: Store) -> str:
    """The key that signs sessions and tokens: OUTREACH_WEB_SECRET, the keys file, or the store.

    Without either, one is made once and kept in the store, so sessions survive a restart
    and every server on a shared PostgreSQL store accepts the same cookies.
    """
    configured = secret("OUTREACH_WEB_SECRET", "web_secret")
    if configured:
        return configured
    with store.session() as session:
        value = session.scalar(select(Meta.value).where(Meta.key == "web_secret"))
        if value is None:
            value = secrets.token_urlsafe(32)
            session.add(Meta(key="web_secret", value=value))
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
