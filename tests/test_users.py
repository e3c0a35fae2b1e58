"""Reviewers: the signing key kept out of the store, server-side sessions, removing a user."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text

from outreach import users
from outreach.errors import ConfigError, NotFound
from outreach.store import Store, open_store
from outreach.store.engine import alembic_config, make_engine
from outreach.store.models import Meta, User, WebSession
from tests.webutil import PASSWORD


def test_the_signing_key_is_made_once_0600_outside_the_store(store: Store) -> None:
    home = Path(os.environ["OUTREACH_HOME"])
    previous = os.umask(0)
    try:
        key = users.web_secret()
    finally:
        os.umask(previous)
    path = home / "web_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) >= 32
    assert path.read_text().strip() == key and users.web_secret() == key
    with store.session() as session:
        stored = session.execute(select(Meta.key, Meta.value)).all()
    assert key not in {value for _, value in stored}
    assert "web_secret" not in {name for name, _ in stored}


def test_the_environment_or_the_keys_file_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = Path(os.environ["OUTREACH_HOME"]) / "keys.toml"
    keys.write_text('web_secret = "from-the-keys-file-0123456789abcdef"\n')
    keys.chmod(0o600)
    assert users.web_secret() == "from-the-keys-file-0123456789abcdef"
    monkeypatch.setenv("OUTREACH_WEB_SECRET", "from-the-environment")
    assert users.web_secret() == "from-the-environment"
    assert not (keys.parent / "web_secret").exists()


def test_a_signing_key_file_others_can_read_is_refused() -> None:
    users.web_secret()
    path = Path(os.environ["OUTREACH_HOME"]) / "web_secret"
    path.chmod(0o644)
    with pytest.raises(ConfigError, match=r"readable by others \(mode 644\); run `chmod 600 "):
        users.web_secret()
    path.chmod(0o600)
    path.write_text("short\n")
    with pytest.raises(ConfigError, match="delete the file to have a new one made"):
        users.web_secret()


def test_the_upgrade_drops_the_signing_key_kept_in_the_store(db_url: str) -> None:
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0004")
    with engine.begin() as connection:
        connection.execute(text("insert into meta (key, value) values ('web_secret', 'old')"))
    engine.dispose()
    store = open_store(db_url)
    with store.session() as session:
        assert session.scalar(select(Meta.value).where(Meta.key == "web_secret")) is None
        assert session.scalar(select(Meta.value).where(Meta.key == "hash_salt"))
    store.close()


def test_sessions_are_stored_as_hashes_and_end_on_logout_password_and_removal(
    store: Store,
) -> None:
    with store.session() as session:
        maria = users.add_user(session, "maria", PASSWORD)
        lena = users.add_user(session, "lena", PASSWORD)
        first = users.start_session(session, maria, hours=12)
        second = users.start_session(session, maria, hours=12)
        theirs = users.start_session(session, lena, hours=12)
        expired = users.start_session(session, lena, hours=-1)
    with store.session() as session:
        stored = set(session.scalars(select(WebSession.id_hash)))
        assert not {first, second, theirs} & stored and len(stored) == 4
        assert [users.session_user(session, s) for s in (first, second, theirs, expired)] == [
            "maria",
            "maria",
            "lena",
            None,
        ]
        users.end_session(session, first)
    with store.session() as session:
        assert users.session_user(session, first) is None
        assert users.session_user(session, second) == "maria"
        users.set_password(session, "maria", "another long password")
    with store.session() as session:
        assert users.session_user(session, second) is None
        assert users.session_user(session, theirs) == "lena"
        users.remove_user(session, "lena")
    with store.session() as session:
        assert users.session_user(session, theirs) is None
        assert session.scalars(select(User.username)).all() == ["maria"]
        assert session.scalar(select(WebSession.id_hash)) is None
        with pytest.raises(NotFound, match="no user lena"):
            users.remove_user(session, "lena")
