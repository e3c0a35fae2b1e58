"""What every command shares: the config path, settings and store, opened on first use."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from outreach import users
from outreach.config import Clock, Settings, database_password, find_config, from_env, load_config
from outreach.store import Store, open_store


@dataclass
class App:
    config_path: Path | None = None
    _settings: Settings | None = None
    _store: Store | None = None
    console: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_config(find_config(self.config_path))
        return self._settings

    @property
    def clock(self) -> Clock:
        """The clock: a fixed $OUTREACH_NOW, else real time (``config.clock``)."""
        return from_env()

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings.database_url, password=database_password())
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {message}", markup=True)


pass_app = click.make_pass_decorator(App)


actor_option = click.option(
    "--as",
    "named",
    envvar="OUTREACH_REVIEWER",
    help="Act as this reviewer (default: $OUTREACH_REVIEWER, else the only reviewer).",
)


def reviewer(app: App, named: str | None) -> str:
    """The reviewer this command acts as (``users.acting_reviewer``)."""
    with app.store.session() as session:
        return users.acting_reviewer(session, named)


def print_json(data: Any) -> None:
    """Write data as indented JSON to stdout (dates as ISO strings)."""
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
