"""The package keeps the layout docs/architecture.md describes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_layer_imports_from_a_layer_above_it() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def test_no_module_is_over_450_lines() -> None:
    # Migrations are a record of the schema's history, written once and never edited.
    migrations = ROOT / "outreach" / "store" / "migrations"
    long = {
        str(path.relative_to(ROOT)): count
        for path in (ROOT / "outreach").rglob("*.py")
        if migrations not in path.parents
        and (count := len(path.read_text(encoding="utf-8").splitlines())) > 450
    }
    assert long == {}, "split these along a real seam: " + ", ".join(sorted(long))
