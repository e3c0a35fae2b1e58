"""Candidates in a real browser: search, the candidate page, an upload with bad rows, forget,
the export download, and every page at 390 px wide.

Screenshots (desktop and phone) go to artifacts/ and, when it exists, /work/notes/shots.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from outreach.candidates import records, search
from outreach.store import Store, open_store
from outreach.store.models import Candidate
from outreach.web import create_app
from tests.test_web_browser import ARTIFACTS, browser, log_in  # noqa: F401  (fixture)
from tests.webutil import Served, seed, settings_for

pytestmark = pytest.mark.browser
SHOTS = [ARTIFACTS, Path("/work/notes/shots")]
PEOPLE = """email,name,company,skills,tags,source
lena.ek@nordlys.example,Lena Ek,Nordlys,Go; Kafka,backend,referral by Kim Berg
asa@fjallmark.example,Åsa Öberg,Fjällmark,Rust,frontend,LinkedIn profile
"""


def shoot(page: Any, name: str) -> None:
    for folder in SHOTS:
        if folder == ARTIFACTS or folder.parent.exists():
            folder.mkdir(exist_ok=True)
            page.screenshot(path=str(folder / f"people-{name}.png"), full_page=True)


@pytest.fixture
def site(workspace: Path) -> Iterator[tuple[Served, Store]]:
    store = open_store(f"sqlite:///{workspace / 'people.db'}")
    seed(store, drafts=2)
    with store.session() as session:
        search.reindex(session)  # seed() writes rows directly
    (workspace / "people.csv").write_text(PEOPLE)
    records.import_file(store, workspace / "people.csv")
    app = create_app(settings_for(workspace), store)
    with Served(app) as served:
        yield served, store
    store.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.dialogs = []

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(dialog.message)
        dialog.accept()

    tab.on("dialog", on_dialog)
    yield tab
    context.close()


def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width} px wide"


def test_search_page_upload_and_forget(
    page: Any, site: tuple[Served, Store], workspace: Path
) -> None:
    served, store = site
    base = served.url
    log_in(page, base)
    page.click("nav >> text=Candidates")
    page.wait_for_url(f"{base}/candidates")
    page.fill("input[name=q]", "kafka")
    page.keyboard.press("Enter")
    page.wait_for_url("**/candidates?q=kafka*")
    rows = page.locator("table.stack tbody tr")
    assert rows.count() == 2  # Lena's skill and Jamie's
    assert "referral by Kim Berg" in page.inner_text("table")
    shoot(page, "search")

    page.click("text=Lena Ek")
    assert "referral by Kim Berg" in page.inner_text(".profile")
    page.get_by_label("Add a tag").fill("shortlist")
    page.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_load_state()
    assert "Added tag shortlist." in page.inner_text("main")
    shoot(page, "candidate")

    page.click("nav >> text=Candidates")
    bad = workspace / "upload.csv"
    bad.write_text("email,name\nnew@example.com,New Person\nnot-an-address,Bad Row\n")
    page.set_input_files("input[type=file]", str(bad))
    page.click("button:text('Upload')")
    page.wait_for_load_state()
    notice = page.inner_text(".note")
    assert "Imported 1 new" in notice and "1 bad rows" in notice
    assert "upload.csv, line 3: 'not-an-address' is not a valid email address" in notice
    shoot(page, "upload")

    page.fill("input[name=q]", "lena")
    page.keyboard.press("Enter")
    page.click("text=Lena Ek")
    page.fill("input[name=confirm]", "lena.ek@nordlys.example")
    page.click("button:text('Forget this person')")
    page.wait_for_url(f"{base}/candidates")
    assert page.dialogs == [
        "Erase everything about lena.ek@nordlys.example for good? This cannot be undone."
    ]
    assert "Forgot lena.ek@nordlys.example" in page.inner_text("main")
    with store.read() as session:
        assert (
            session.scalar(select(Candidate).where(Candidate.email == "lena.ek@nordlys.example"))
            is None
        )


def test_every_candidate_page_fits_a_phone(page: Any, site: tuple[Served, Store]) -> None:
    served, store = site
    base = served.url
    log_in(page, base)
    page.set_viewport_size({"width": 390, "height": 844})
    with store.read() as session:
        first = session.scalar(select(Candidate.id).order_by(Candidate.id))
    pages = [
        ("list", "/candidates"),
        ("person", f"/candidates/{first}"),
        ("expiring", "/candidates/expiring"),
    ]
    for name, path in pages:
        page.goto(base + path)
        no_sideways_scroll(page)
        shoot(page, f"{name}-390")


def test_export_download(page: Any, site: tuple[Served, Store], tmp_path: Path) -> None:
    served, _ = site
    base = served.url
    log_in(page, base)
    page.goto(f"{base}/candidates?q=asa")
    page.click("text=Åsa Öberg")
    with page.expect_download() as info:
        page.click("button:text('Export everything (ZIP)')")
    download = info.value
    assert download.suggested_filename == "asa_fjallmark.example-export.zip"
    target = tmp_path / "export.zip"
    download.save_as(str(target))
    with zipfile.ZipFile(target) as archive:
        doc = json.loads(archive.read("data.json"))
        assert "README.txt" in archive.namelist()
    assert doc["profile"]["name"] == "Åsa Öberg"
    assert doc["profile"]["source"] == "LinkedIn profile"
    assert doc["profile"]["tags"] == ["frontend"]
    page.reload()
    assert "candidate.exported" in page.inner_text("main")  # the request is in their history
