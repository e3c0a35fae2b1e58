"""What providers mean by some refusals, in words a recruiter can act on."""

from __future__ import annotations

import re

# Exchange Online refuses a password once basic authentication is off for SMTP AUTH:
# https://learn.microsoft.com/en-us/exchange/clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission
_BASIC_AUTH_OFF = re.compile(
    r"5\.7\.30|5\.7\.139|basic auth\w* (is )?(not supported|disabled)", re.I
)


def basic_auth_refused(code: int, message: str) -> str | None:
    """Explain Exchange's refusal of password logins (550 5.7.30, 535 5.7.139), else None."""
    if not _BASIC_AUTH_OFF.search(f"{code} {message}"):
        return None
    return (
        f"the server refused password sign-in ({code} {' '.join(message.split())}): Microsoft "
        "365 has turned off basic authentication for SMTP, so passwords and app passwords no "
        "longer work; sign in with Microsoft instead: `outreach account add NAME --provider "
        "microsoft --email ADDRESS` (docs/oauth.md)"
    )
