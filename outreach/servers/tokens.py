"""The token helper's face for IMAP and SMTP logins, and the token-command kind of it.

Both logins ask a ``TokenSource`` for a token, try it, and on a refusal ask once more with
``refused=`` the token that failed; a second refusal is reported, never retried in a loop.
``GrantToken`` (``outreach.accounts.tokens``) serves saved OAuth sign-ins; ``CommandToken`` runs the
``oauth2_token_command`` of a generic account, which keeps its own tokens fresh.
"""

from __future__ import annotations

import shlex
import subprocess
from typing import Protocol

from outreach.errors import ConfigError


class TokenSource(Protocol):
    """Hands out access tokens for XOAUTH2/OAUTHBEARER logins."""

    def token(self, refused: str | None = None) -> str:
        """An access token; pass the one the server refused to get a fresh one."""
        ...


class CommandToken:
    """A token printed by a command (no shell), like mutt's oauth2.py: it does the refreshing."""

    def __init__(self, command: str, key: str, timeout: float = 30.0) -> None:
        self.command = command
        self.key = key  # the config key, for messages: imap.oauth2_token_command
        self.timeout = timeout

    def token(self, refused: str | None = None) -> str:
        """Run the command and return the first line it prints; stderr is never read."""
        argv = shlex.split(self.command)
        if not argv:
            raise ConfigError(f"{self.key} is empty")
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # may echo secrets: never captured or logged
                timeout=self.timeout,
                check=False,
            )
        except OSError as exc:
            raise ConfigError(f"{self.key} cannot run {argv[0]}: {exc}") from None
        except subprocess.TimeoutExpired:
            raise ConfigError(f"{self.key} did not finish within {self.timeout:g} s") from None
        if done.returncode != 0:
            raise ConfigError(
                f"{self.key} exited with status {done.returncode}; run it by hand to see why"
            )
        lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
        if not lines or not lines[0].strip():
            raise ConfigError(f"{self.key} printed no token")
        return lines[0].strip()
