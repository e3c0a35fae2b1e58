"""Template limits: runaway templates end with a one-line error naming the template and the limit.

Each bomb once ran until the process was killed; a regenerate with one froze `serve`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from outreach.cli import cli
from outreach.drafting.templates import TemplateLibrary
from outreach.errors import TemplateError
from outreach.store import Store, open_store
from outreach.store.models import Revision
from outreach.web import create_app
from tests.llm_server import FakeLLMServer
from tests.webutil import Served, log_in, seed, settings_for

HEAD = "Subject: Hello\nKind: outreach\n\nHi {{ candidate.first_name }},\n"  # the bomb: line 5
NESTED_RANGES = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
HUGE_POWER = "{{ 9 ** 99999999 }}"
HUGE_REPEAT = "{{ 'ab' * 1000000000 }}"
DEEP_MACROS = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
STEPS = "more than 25,000 loop iterations and calls in one render"
# The four bombs of the report, and what each one's error says.
BOMBS = [
    pytest.param(NESTED_RANGES, STEPS, id="nested-ranges"),
    pytest.param(HUGE_POWER, "'**' would make a number of about 316,992,497 bits", id="power"),
    pytest.param(HUGE_REPEAT, "'*' would be 2,000,000,000 characters", id="repeat"),
    pytest.param(DEEP_MACROS, "calls nested more than 50 deep", id="deep-macros"),
]
# Runs until the deadline: each step is slow (adding 100,000 numbers of 4,000 bits) but small.
SLOW = (
    "{% set big = [2 ** 4000] * 100000 %}"
    "{% for i in range(100000) %}{% set total = big | sum %}{% endfor %}"
)
PERSON = {"name": "Anna Svensson", "skills": ["Go", "Kafka"], "achievements": ["Built a ledger"]}


def library(tmp_path: Path, body: str) -> TemplateLibrary:
    (tmp_path / "bomb.j2").write_text(HEAD + body + "\nBye\n", encoding="utf-8")
    return TemplateLibrary(tmp_path)


def failure(tmp_path: Path, body: str) -> str:
    with pytest.raises(TemplateError) as caught:
        library(tmp_path, body).render("bomb", {"candidate": PERSON})
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("body", "limit"), BOMBS)
def test_each_bomb_of_the_report_ends_with_the_limit_and_the_line(
    tmp_path: Path, body: str, limit: str
) -> None:
    message = failure(tmp_path, body)
    assert message.startswith(f"{tmp_path / 'bomb.j2'}, line 5: template limit reached: ")
    assert limit in message


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(40) }}",
            STEPS,
        ),
        (
            "{% for a in range(3) %}\n{{ 'x' * 90000 }}\n{% endfor %}",
            "the mail is longer than 100,000 characters",
        ),
        (
            "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s | length }}{% endmacro %}"
            "{{ d('a', 60) }}",
            "a value would be 131,072 characters",
        ),
        (
            "{% set xs = [1] %}{% for i in range(64) %}{{ xs.extend(xs) }}{% endfor %}",
            "a value would be 131,072 characters",
        ),
        (
            "{{ range(1000) | map('string') | map('center', 99999) | join }}",
            "more than 10,000,000 characters or items made in one render",
        ),
        (
            "{% macro sq(x, n) %}{{ sq(x * x, n - 1) if n else x }}{% endmacro %}{{ sq(3, 40) }}",
            "'*' would make a number wider than 4,096 bits",
        ),
        ("{{ 'a' | center(1000000000) }}", "'center' would be 1,000,000,000"),
        ("{{ 'a'.ljust(1000000000) }}", "padding would be 1,000,000,000"),
        ("{{ '{:>1000000000}'.format(1) }}", "a format width would be 1,000,000,000"),
        ("{{ '{:>{}}'.format(1, 1000000000) }}", "a format width would be 1,000,000,000"),
        ("{{ '%1000000000s' % 'a' }}", "a '%' format would be 1,000,000,000"),
        ("{{ '%*s' | format(1000000000, 'a') }}", "a '%*' format would be 1,000,000,000"),
        ("{{ ('a' * 1000) | replace('a', 'a' * 1000) }}", "'replace' would be 1,000,000"),
        ("{{ range(3) | batch(1000000000, 'x') | list }}", "'batch' would be 1,000,000,000"),
        ("{{ range(3) | slice(1000000000) | list }}", "'slice' would be 1,000,000,000"),
        ("{{ range(1000000000) | list }}", "'range' would be 1,000,000,000"),
        ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "nested more than 50 deep"),
        (
            "{% for a in [1,2,3,4,5,6,7,8,9,10] %}{% for b in [1,2,3,4,5,6,7,8,9,10] %}"
            "{% for c in [1,2,3,4,5,6,7,8,9,10] %}{% for d in [1,2,3,4,5,6,7,8,9,10] %}"
            "{% for e in [1,2,3,4,5,6,7,8,9,10] %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}"
            "{% endfor %}",
            STEPS,
        ),
        (SLOW, "rendering took longer than 2 s"),
    ],
)
def test_other_ways_to_run_away_are_bounded_too(tmp_path: Path, body: str, limit: str) -> None:
    message = failure(tmp_path, body)
    assert (
        message.startswith(f"{tmp_path / 'bomb.j2'}, line ") and "template limit reached" in message
    )
    assert limit in message


def test_lipsum_is_not_offered(tmp_path: Path) -> None:
    assert "'lipsum' is undefined" in failure(tmp_path, "{{ lipsum(100000000) }}")


def test_ordinary_templates_render_as_before(tmp_path: Path) -> None:
    body = (
        "{% for skill in candidate.skills %}{{ loop.index }}. {{ skill | upper }}\n{% endfor %}"
        "{{ 2 ** 10 }} {{ '-' * 5 }} {{ '%5s|' % 'ab' }} {{ '{:>4}|'.format('x') }}"
        " {{ candidate.skills | join(', ') }} {{ 'abc' | center(7) }}|"
        " {{ 'x'.ljust(3) }}| {{ ('a' ~ 'b') * 2 }} {{ [1, 2] + [3] }}"
        "{% set xs = [] %}{% for i in range(3) %}{% set _ = xs.append(i) %}{% endfor %} {{ xs }}"
    )
    rendered = library(tmp_path, body).render("bomb", {"candidate": PERSON})
    assert rendered.body == (
        "Hi Anna,\n1. GO\n2. KAFKA\n1024 -----    ab|    x| Go, Kafka   abc  |"
        " x  | abab [1, 2, 3] [0, 1, 2]\nBye\n"
    )


@pytest.mark.parametrize(("body", "limit"), BOMBS)
def test_templates_preview_reports_a_bomb_in_one_line(
    workspace: Path, capsys: pytest.CaptureFixture[str], body: str, limit: str
) -> None:
    (workspace / "people.csv").write_text("email,name\nanna@paywise.example,Anna Svensson\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["candidates", "import", "people.csv"]).exit_code == 0
    (workspace / "templates" / "bomb.j2").write_text(HEAD + body + "\n", encoding="utf-8")
    from outreach.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["templates", "preview", "bomb", "--candidate", "anna@paywise.example", "--no-ai"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 1 and out == ""
    assert err.startswith("error: templates/bomb.j2, line 5: template limit reached: "), err
    assert limit in err and err.count("\n") == 1 and "Traceback" not in err


def regenerated(client: Any, token: str) -> Any:
    return client.post(
        "/api/drafts/1/regenerate", json={"instruction": "x"}, headers={"X-CSRF-Token": token}
    )


def revisions(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).where(Revision.draft_id == 1)) or 0)


@pytest.mark.parametrize(("body", "limit"), BOMBS)
def test_regenerate_reports_a_bomb_and_keeps_the_draft(
    workspace: Path, llm_server: FakeLLMServer, body: str, limit: str
) -> None:
    store = open_store(f"sqlite:///{workspace / 'review.db'}")
    seed(store, drafts=1)  # draft 1 uses the template "intro"
    (workspace / "templates" / "intro.j2").write_text(HEAD + body + "\n", encoding="utf-8")
    with TestClient(create_app(settings_for(workspace, llm_server.base_url), store)) as client:
        token = log_in(client)
        answer = regenerated(client, token)
        assert answer.status_code == 400
        detail = answer.json()["detail"]
        assert detail.startswith("templates/intro.j2, line 5: template limit reached: ")
        assert limit in detail
        page = client.post(
            "/drafts/1/regenerate", data={"csrf_token": token, "instruction": "x"}
        ).text
        assert "template limit reached" in page
        assert client.get("/api/drafts/1").json()["id"] == 1
    assert revisions(store) == 1 and llm_server.completions == []
    store.close()


def running(filename: str) -> bool:
    """Whether some thread is executing the code compiled from this template file."""
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code.co_filename == filename:
                return True
            frame = frame.f_back  # type: ignore[assignment]
    return False


def wait_until(condition: Callable[[], bool], thread: threading.Thread) -> None:
    while not condition() and thread.is_alive():
        thread.join(0.005)


def test_the_server_answers_others_while_a_template_runs_to_its_deadline(
    workspace: Path, llm_server: FakeLLMServer
) -> None:
    store = open_store(f"sqlite:///{workspace / 'review.db'}")
    seed(store, drafts=1)
    template = workspace / "templates" / "intro.j2"
    template.write_text(HEAD + SLOW + "\n", encoding="utf-8")
    app = create_app(settings_for(workspace, llm_server.base_url), store)
    answers: list[httpx.Response] = []
    with (
        Served(app) as served,
        httpx.Client(base_url=served.url, timeout=30) as reviewer,
        httpx.Client(base_url=served.url, timeout=30) as colleague,
    ):
        token = log_in(reviewer)  # type: ignore[arg-type]
        log_in(colleague)  # type: ignore[arg-type]
        worker = threading.Thread(target=lambda: answers.append(regenerated(reviewer, token)))
        worker.start()
        wait_until(lambda: running(str(template)), worker)
        assert running(str(template)), "the regenerate never started rendering"
        listing = colleague.get("/api/drafts")
        # Answered while the template was still running: the event loop was free.
        assert running(str(template)) and worker.is_alive()
        assert listing.status_code == 200 and listing.json()["total"] == 1
        worker.join()
    store.close()
    detail = answers[0].json()["detail"]
    assert detail == (
        "templates/intro.j2, line 5: template limit reached: rendering took longer than 2 s"
    )
