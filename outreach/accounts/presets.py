"""What each provider needs: servers, folders, sign-in, and its sending limits as ceilings.

Servers and ports come from the providers' own client-setup pages; sending limits from their
published limits pages (cited beside each number). Pacing never goes above a ceiling; the
workspace's `[pacing]` usually stays far below it (about 100 a day for 1:1 recruiting mail).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from outreach.errors import InputError

Auth = Literal["password", "oauth2", "token_command"]


@dataclass(frozen=True)
class Preset:
    """A provider's servers, folders, sign-in and ceilings."""

    provider: str
    label: str
    imap_host: str
    imap_port: int
    imap_security: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    auth: Auth
    oauth: str = ""  # which OAuth app signs in: "google" | "microsoft" | ""
    sent_folder: str = ""
    all_mail_folder: str = ""
    # The server files a copy of what is sent over SMTP in Sent itself: never APPEND another.
    files_sent: bool = False
    daily_limit: int | None = None
    per_minute_limit: int | None = None


PRESETS: dict[str, Preset] = {
    # Servers: https://developers.google.com/gmail/imap/imap-smtp
    # Gmail files every message sent through smtp.gmail.com in Sent Mail itself, so a client
    # APPEND would show the message twice. Sync reads "[Gmail]/All Mail" (\All).
    # Limits: https://support.google.com/a/answer/166852 (Google Workspace: 2,000 messages a
    # day per user, 500 in a trial; recipients per message over SMTP: 100). Google publishes no
    # per-minute limit. Consumer @gmail.com: see `ceilings` below.
    "gmail": Preset(
        provider="gmail",
        label="Google (Gmail, Google Workspace)",
        imap_host="imap.gmail.com",
        imap_port=993,
        imap_security="tls",
        smtp_host="smtp.gmail.com",
        smtp_port=465,
        smtp_security="tls",
        auth="oauth2",
        oauth="google",
        sent_folder="[Gmail]/Sent Mail",
        all_mail_folder="[Gmail]/All Mail",
        files_sent=True,
        daily_limit=2000,
    ),
    # Servers: https://learn.microsoft.com/en-us/exchange/clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission
    # Exchange Online saves messages submitted over SMTP AUTH in Sent Items itself.
    # Limits: https://learn.microsoft.com/en-us/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits#sending-limits
    # (10,000 recipients a day, 30 messages a minute per mailbox).
    "microsoft": Preset(
        provider="microsoft",
        label="Microsoft 365 / Outlook.com",
        imap_host="outlook.office365.com",
        imap_port=993,
        imap_security="tls",
        smtp_host="smtp.office365.com",
        smtp_port=587,
        smtp_security="starttls",
        auth="oauth2",
        oauth="microsoft",
        sent_folder="Sent Items",
        files_sent=True,
        daily_limit=10000,
        per_minute_limit=30,
    ),
    # Servers: https://www.fastmail.com/help/technical/servernamesandports.html
    # Fastmail's OAuth is for approved partners only, so an app password signs in. Mail sent
    # over SMTP is not filed in Sent: outreach APPENDs it. Fastmail's limits page
    # (https://www.fastmail.com/help/account/limits.html) sets per-plan limits without a
    # per-minute figure; no ceiling beyond the workspace's own pacing is assumed.
    "fastmail": Preset(
        provider="fastmail",
        label="Fastmail",
        imap_host="imap.fastmail.com",
        imap_port=993,
        imap_security="tls",
        smtp_host="smtp.fastmail.com",
        smtp_port=465,
        smtp_security="tls",
        auth="password",
        sent_folder="Sent",
    ),
    # Any IMAP/SMTP server: hosts from the command line, password or a token command.
    "imap": Preset(
        provider="imap",
        label="Other IMAP/SMTP server",
        imap_host="",
        imap_port=993,
        imap_security="tls",
        smtp_host="",
        smtp_port=587,
        smtp_security="starttls",
        auth="password",
    ),
}

# Consumer Gmail sends to at most 500 recipients a day:
# https://support.google.com/mail/answer/22839
CONSUMER_GMAIL = ("gmail.com", "googlemail.com")
CONSUMER_GMAIL_DAILY = 500


def preset(provider: str) -> Preset:
    """The preset of a provider; InputError naming the choices when it is unknown."""
    try:
        return PRESETS[provider]
    except KeyError:
        raise InputError(
            f"unknown provider {provider!r}; use one of {', '.join(PRESETS)}"
        ) from None


def ceilings(found: Preset, email: str) -> tuple[int | None, int | None]:
    """The daily and per-minute sending ceilings of an address at this provider."""
    domain = email.rpartition("@")[2].lower()
    if found.provider == "gmail" and domain in CONSUMER_GMAIL:
        return CONSUMER_GMAIL_DAILY, found.per_minute_limit
    return found.daily_limit, found.per_minute_limit
