"""Whether a host stays on this machine: the one test behind every "loopback only" rule.

Plain SMTP or IMAP, an unverified certificate, an http:// OAuth endpoint and the web UI
without ``--public`` are allowed only on loopback.
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Tell whether a host name or address names this machine only (localhost, 127/8, ::1)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
