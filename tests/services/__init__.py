"""Real services the tests start or reach. Missing ones skip locally and fail under CI=true."""

from __future__ import annotations

import os

import pytest


def missing(reason: str) -> None:
    """Skip the test because a service is missing; under CI=true fail it instead."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"required service missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)
