"""The demo: a workspace on embedded defaults that shows what outreach does, end to end."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from . import candidates
from .cli.context import App
from .config import CONFIG_NAME, load_config
from .store import open_store

DEMO_DATA = resources.files("outreach") / "starter" / "demo"


def run_demo(app: App, directory: Path, *, serve: bool = True) -> None:
    """Import the fictional candidates into the demo workspace and show them."""
    settings = load_config(directory / CONFIG_NAME)
    store = open_store(settings.database_url)
    try:
        with resources.as_file(DEMO_DATA / "candidates.csv") as csv_path:
            report = candidates.import_file(store, csv_path, tags=["demo"], actor="demo")
        app.console.print(
            f"[bold]outreach demo[/] in {directory}: {report.created} new candidates, "
            f"{report.updated + report.unchanged} already there",
            markup=True,
        )
        for person in candidates.list_candidates(store, tag="demo"):
            app.console.print(f"  {person['name']} <{person['email']}> — {person['headline']}")
    finally:
        store.close()
