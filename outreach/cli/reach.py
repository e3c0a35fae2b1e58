"""What `outreach config check` can reach: the SMTP server, the mailbox and the model.

Each probe does what the real work does first (connect, secure, log in; list folders; list
models) and answers one line; failures are one-line reasons, never secrets.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from outreach.config import Settings, llm_api_key, redact_url
from outreach.errors import OutreachError
from outreach.sending.sender import smtp_settings
from outreach.servers.configured import open_mailbox
from outreach.servers.smtp import SmtpConnection


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str


def probe_smtp(settings: Settings) -> Probe:
    """Connect to the SMTP server with the configured security and login."""

    async def run() -> str:
        connection = SmtpConnection(smtp_settings(settings))
        return await connection.probe(settings.sender.email)

    try:
        greeting = asyncio.run(run())
    except OutreachError as exc:
        return Probe("smtp", False, str(exc))
    return Probe("smtp", True, f"{settings.smtp.host}:{settings.smtp.port} ({greeting})")


def probe_mailbox(settings: Settings) -> Probe | None:
    """Open the mailbox and list the folders the sync reads; None when none is configured."""
    if not (settings.imap.host or settings.imap.maildir):
        return None
    try:
        with open_mailbox(settings) as box:
            folders = box.folders()
    except OutreachError as exc:
        return Probe("imap", False, str(exc))
    where = settings.imap.maildir or f"{settings.imap.host}:{settings.imap.port}"
    return Probe("imap", True, f"{where}: {', '.join(folders)}")


def probe_model(settings: Settings) -> Probe | None:
    """List the model server's models; None with the template-only drafter."""
    llm = settings.llm
    if llm.provider == "none":
        return None
    url = (llm.base_url or "https://api.openai.com/v1").rstrip("/")
    base = redact_url(url)  # as messages show it
    key = llm_api_key(settings)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(f"{url}/models", headers=headers, timeout=llm.timeout_seconds)
    except httpx.HTTPError as exc:
        return Probe("llm", False, redact_url(f"cannot reach {base}: {exc}"))
    if response.status_code != 200:
        return Probe("llm", False, f"{base}/models answered {response.status_code}")
    try:
        names = [m.get("id", "") for m in response.json().get("data", [])]
    except ValueError:
        names = []
    known = "" if not names or llm.model in names else f"; {llm.model!r} is not among them"
    return Probe("llm", not known, f"{base}: {len(names)} models{known}")
