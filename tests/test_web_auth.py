"""Signing in and staying signed in: throttled guessing, revocable sessions, unforgeable cookies."""

from __future__ import annotations

import hashlib
import json
import threading
from base64 import b64decode, b64encode
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeSerializer
from sqlalchemy import select

from outreach import users
from outreach.cli import cli
from outreach.review import queue
from outreach.store import Store, open_store
from outreach.store.models import Meta, User, WebSession
from outreach.web import create_app
from outreach.web.throttle import LoginThrottle, wait_message
from tests.test_web_browser import Served
from tests.webutil import PASSWORD, csrf_of, log_in, seed, settings_for

COOKIE = "outreach_session"


def sign_in(client: TestClient, user: str, password: str) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def replay(client: TestClient, cookie: str) -> None:
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie)


def assert_refused(client: TestClient, csrf: str, store: Store) -> None:
    """Pages go to the login page, the API says 401, CSRF-protected POSTs change nothing."""
    page = client.get("/queue", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    post = client.post(
        "/drafts/1/approve", data={"csrf_token": csrf, "revision": "1"}, follow_redirects=False
    )
    assert post.status_code == 303 and post.headers["location"].startswith("/login")
    assert client.get("/api/drafts").status_code == 401
    api = client.post("/api/drafts/1/approve", json={"revision": 1}, headers={"X-CSRF-Token": csrf})
    assert api.status_code == 401
    with store.session() as session:
        assert queue.get_draft(session, 1).status == "pending"


@pytest.fixture
def site(workspace: Path) -> Iterator[tuple[TestClient, Store]]:
    """The app over the workspace's own store, so that `outreach user …` acts on it."""
    store = open_store(f"sqlite:///{workspace / 'outreach.db'}")
    seed(store, drafts=2)
    with store.session() as session:
        users.add_user(session, "lena", PASSWORD)
    with TestClient(create_app(settings_for(workspace), store)) as client:
        yield client, store
    store.close()


# Sessions end on the server ----------------------------------------------------------------


def test_a_cookie_replayed_after_logout_is_no_session(site: tuple[TestClient, Store]) -> None:
    client, store = site
    other = TestClient(client.app)
    log_in(other)  # the same reviewer in another browser
    csrf = log_in(client)
    cookie = client.cookies[COOKIE]
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 200
    replay(client, cookie)
    assert_refused(client, csrf, store)
    replay(client, cookie)
    login = client.get("/login")
    assert login.status_code == 200 and "Log out" not in login.text and "maria" not in login.text
    assert other.get("/queue").status_code == 200  # logging out ends this session only


def test_a_new_password_ends_every_session_of_that_user(site: tuple[TestClient, Store]) -> None:
    client, store = site
    csrf = log_in(client)
    cookie = client.cookies[COOKIE]
    lena = TestClient(client.app)
    log_in(lena, "lena")
    changed = CliRunner().invoke(
        cli, ["user", "password", "maria", "--password-stdin"], input="another long password\n"
    )
    assert changed.exit_code == 0, changed.output
    replay(client, cookie)
    assert_refused(client, csrf, store)
    assert lena.get("/queue").status_code == 200
    assert sign_in(client, "maria", "another long password").status_code == 303


def test_removing_a_user_ends_their_sessions_and_tokens(site: tuple[TestClient, Store]) -> None:
    client, store = site
    csrf = log_in(client, "lena")
    token = CliRunner().invoke(cli, ["user", "token", "lena"]).output.strip()
    assert client.get("/api/drafts", headers={"Authorization": f"Bearer {token}"}).is_success
    removed = CliRunner().invoke(cli, ["user", "remove", "lena"])
    assert removed.exit_code == 0 and "removed user lena" in removed.output
    assert_refused(client, csrf, store)
    client.cookies.clear()
    assert (
        client.get("/api/drafts", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    assert sign_in(client, "lena", PASSWORD).status_code == 401
    gone = CliRunner().invoke(cli, ["user", "remove", "lena"])
    assert gone.exit_code == 1 and "no user lena" in str(gone.exception)


def test_what_the_store_holds_signs_no_session_and_no_token(store: Store, workspace: Path) -> None:
    seed(store, drafts=1)
    with TestClient(create_app(settings_for(workspace), store)) as client:
        log_in(client)
        key = users.web_secret()
        real = json.loads(b64decode(TimestampSigner(key).unsign(client.cookies[COOKIE])))
        with store.session() as session:
            # Everything a reader of the database could sign with, or put in a cookie.
            values = list(session.scalars(select(Meta.value)))
            hashes = list(session.scalars(select(WebSession.id_hash)))
            user = session.scalar(select(User).where(User.username == "maria"))
            assert user is not None
            fingerprint = hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]
        claim = {"u": "maria", "f": fingerprint}

        def cookie(signing_key: str, sid: str | None) -> str:
            data = {"user": "maria", "csrf": real["csrf"], "sid": sid}
            return TimestampSigner(signing_key).sign(b64encode(json.dumps(data).encode())).decode()

        def token(signing_key: str) -> dict[str, str]:
            forged = URLSafeSerializer(signing_key, salt="api-token").dumps(claim)
            return {"Authorization": f"Bearer {forged}"}

        # The forgeries are made right: with the real key they would pass.
        replay(client, cookie(key, real["sid"]))
        assert client.get("/queue", follow_redirects=False).status_code == 200
        assert client.get("/api/drafts", headers=token(key)).status_code == 200
        for value in values:
            for sid in [*hashes, real["sid"], None]:
                replay(client, cookie(value, sid))
                assert client.get("/queue", follow_redirects=False).status_code == 303
            client.cookies.clear()
            assert client.get("/api/drafts", headers=token(value)).status_code == 401


def test_the_api_schema_needs_a_login(site: tuple[TestClient, Store]) -> None:
    client, _ = site
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/docs").status_code == 404  # no Swagger page at all (it needs a CDN)
    log_in(client)
    assert "/api/drafts/{draft_id}/approve" in client.get("/openapi.json").json()["paths"]


# Guessing is slowed down -------------------------------------------------------------------


def test_200_wrong_passwords_then_the_right_one_is_still_throttled(
    site: tuple[TestClient, Store],
) -> None:
    client, _ = site
    statuses = [sign_in(client, "maria", f"guess number {i}").status_code for i in range(200)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    right = sign_in(client, "maria", PASSWORD)
    assert right.status_code == 429 and int(right.headers["retry-after"]) <= 31
    assert "Too many failed sign-ins; try again in " in right.text
    # Another account from the same address is not held back by maria's record.
    assert sign_in(client, "lena", PASSWORD).status_code == 303


def test_one_address_guessing_many_accounts_is_throttled(site: tuple[TestClient, Store]) -> None:
    client, _ = site
    guesser = TestClient(client.app, client=("192.0.2.7", 40000))
    assert {sign_in(guesser, f"user{i}", "guess").status_code for i in range(20)} == {401}
    held = sign_in(guesser, "lena", PASSWORD)
    assert held.status_code == 429 and "try again in 30 s" in held.text
    elsewhere = TestClient(client.app, client=("192.0.2.8", 40000))
    assert sign_in(elsewhere, "lena", PASSWORD).status_code == 303


def test_waits_grow_are_bounded_and_end() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for i in range(5):
        assert throttle.attempt("maria", f"10.0.0.{i}") == 0
    assert throttle.attempt("maria", "10.0.1.1") == 30
    now[0] += 10
    assert throttle.attempt("maria", "10.0.1.2") == 20  # refused tries don't extend the wait
    waits = []
    for i in range(8):
        now[0] += throttle.attempt("maria", "10.0.2.1")  # wait it out: the next try is checked
        assert throttle.attempt("maria", f"10.0.3.{i}") == 0
        waits.append(throttle.attempt("maria", "10.0.4.1"))
    assert waits == [60, 120, 240, 480, 900, 900, 900, 900]
    now[0] += 900
    assert throttle.attempt("maria", "10.0.5.1") == 0
    throttle.succeeded("maria", "10.0.5.1")  # the right password clears the account
    assert [throttle.attempt("maria", "10.0.6.1") for _ in range(6)] == [0] * 5 + [30]
    now[0] += 3600  # an hour without failures forgets them
    assert [throttle.attempt("maria", "10.0.7.1") for _ in range(5)] == [0] * 5
    assert wait_message(30) == "too many failed sign-ins; try again in 30 s"
    assert wait_message(899.2) == "too many failed sign-ins; try again in 15 min"


def test_the_api_answers_while_a_password_is_being_checked(workspace: Path) -> None:
    """argon2 runs off the event loop: API requests complete while a sign-in is checked."""
    store = open_store(f"sqlite:///{workspace / 'outreach.db'}")
    seed(store, drafts=2)
    costly = PasswordHasher(time_cost=40, memory_cost=32768, parallelism=1)  # ~1 s or more
    with store.session() as session:
        session.add(User(username="slow", password_hash=costly.hash(PASSWORD)))
        token = users.issue_token(session, users.web_secret(), "maria")
    sent, done, outcome = threading.Event(), threading.Event(), []

    def guess(base: str) -> None:
        try:
            with httpx.Client(base_url=base, timeout=300) as browser:
                csrf = csrf_of(browser.get("/login").text)
                form = {"username": "slow", "password": "a wrong guess", "csrf_token": csrf}
                sent.set()
                outcome.append(browser.post("/login", data=form).status_code)
        finally:
            sent.set()
            done.set()

    answered: list[Any] = []
    with Served(create_app(settings_for(workspace), store)) as served:
        guesser = threading.Thread(target=guess, args=(served.url,))
        guesser.start()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=served.url, headers=headers, timeout=300) as api:
            sent.wait(300)
            while not done.is_set():
                response = api.get("/api/drafts", params={"per_page": 1})
                if not done.is_set():
                    answered.append(response.json()["total"])
        guesser.join(300)
    store.close()
    assert outcome == [401]  # the password was checked, and wrong
    assert len(answered) >= 10 and set(answered) == {2}
