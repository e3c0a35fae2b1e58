"""The mailbox the settings name: a local Maildir, or an IMAP server (password or XOAUTH2).

The one way in for every reader of the mailbox: the inbox sync, the sender's Sent-folder
checks and `outreach config check`.
"""

from __future__ import annotations

from outreach.config import Settings, imap_password, outreach_home
from outreach.errors import ConfigError
from outreach.servers.imap import ImapMailbox
from outreach.servers.mailbox import Mailbox
from outreach.servers.maildir import MaildirMailbox
from outreach.servers.tokens import CommandToken


def mailbox_name(settings: Settings) -> str:
    """The name sync state and messages are kept under: the IMAP user, or the Maildir."""
    if settings.imap.maildir:
        return f"maildir:{settings.path(settings.imap.maildir)}"
    return settings.imap.username or settings.sender.email


def open_mailbox(settings: Settings) -> Mailbox:
    """Open the configured mailbox: a local Maildir, or an IMAP server."""
    imap = settings.imap
    if imap.maildir:
        return MaildirMailbox(
            settings.path(imap.maildir), outreach_home() / "sync", folders=imap.folders or None
        )
    if not imap.host:
        raise ConfigError("no mailbox to sync: set [imap] host (or maildir) in config.toml")
    command = imap.oauth2_token_command
    tokens = (
        CommandToken(command, "imap.oauth2_token_command", imap.timeout_seconds)
        if command
        else None
    )
    return ImapMailbox(
        host=imap.host,
        port=imap.port,
        security=imap.security,
        username=imap.username or settings.sender.email,
        password=None if tokens else imap_password(),
        tokens=tokens,
        timeout=imap.timeout_seconds,
        folders=imap.folders or None,
    )
