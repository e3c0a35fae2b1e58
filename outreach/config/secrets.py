"""Where secrets live: the environment or a 0600 keys file, never config.toml or a URL in it.

``url_secret`` and the key lists say what config.toml must not hold (the settings loader
refuses it); ``redact_url`` keeps a secret that reaches us another way out of messages and
records.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from outreach.errors import ConfigError

if TYPE_CHECKING:
    from outreach.config.settings import Settings

KEYS_NAME = "keys.toml"

# Keys whose values are secrets, wherever they appear in config.toml.
SECRET_KEYS = {
    "password",
    "pass",
    "passwd",
    "api_key",
    "apikey",
    "token",
    "secret",
    "access_token",
    "refresh_token",
    "client_secret",
}
# Where each secret belongs instead: (environment variable, keys-file key).
SECRET_HOMES = {
    "smtp": ("OUTREACH_SMTP_PASSWORD", "smtp_password"),
    "imap": ("OUTREACH_IMAP_PASSWORD", "imap_password"),
    "llm": ("the variable named by llm.api_key_env", "llm_api_key"),
    "web": ("OUTREACH_WEB_SECRET", "web_secret"),
    "google": ("OUTREACH_GOOGLE_CLIENT_SECRET", "google_client_secret"),
    "microsoft": ("OUTREACH_MICROSOFT_CLIENT_SECRET", "microsoft_client_secret"),
    "database": ("OUTREACH_DATABASE_PASSWORD", "database_password"),
}
# URLs in config.toml that must carry no secret, and where their secret belongs instead.
URL_KEYS = {
    "database": ("url", " or use libpq's PGPASSWORD or ~/.pgpass"),
    "llm": ("base_url", ""),
}
# Query parameters that carry a secret (libpq takes ?password=, proxies take ?key=).
_SECRET_PARAMS = (
    "password|passwd|pass|sslpassword|api_key|apikey|api-key|key|token|access_token|secret"
    "|client_secret|sig|signature"
)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s]*@", re.IGNORECASE)
_URL_SECRET_PARAM = re.compile(rf"([?&](?:{_SECRET_PARAMS})=)[^&#\s]*", re.IGNORECASE)


def url_secret(url: str) -> str | None:
    """What in a URL is a secret ("a password", "the 'key' parameter"), or None."""
    try:
        parts = urlsplit(url.strip())
        password = parts.password
    except ValueError:  # not a URL we can read; its own check reports it
        return None
    if password:
        return "a password"
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if re.fullmatch(_SECRET_PARAMS, name, re.IGNORECASE):
            return f"the {name!r} parameter"
    return None


def redact_url(text: str) -> str:
    """Text with the password and the secret parameters of every URL in it replaced by ***."""
    return _URL_SECRET_PARAM.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))


def outreach_home() -> Path:
    """Folder for per-user state: $OUTREACH_HOME or ~/.outreach."""
    return Path(os.environ.get("OUTREACH_HOME") or Path.home() / ".outreach")


def keys_path() -> Path:
    """The 0600 keys file under OUTREACH_HOME."""
    return outreach_home() / KEYS_NAME


def read_keys() -> dict[str, str]:
    """Read the keys file; refuse it when others can read it."""
    path = keys_path()
    if not path.exists():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{path}: readable by others (mode {mode:o}); run `chmod 600 {path}` to protect it"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f'{path}: not valid TOML ({exc}); write lines like key = "value"'
        ) from None
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int)}


def secret(env_var: str, key: str) -> str | None:
    """A secret from the environment variable, else the keys file; None when neither has it."""
    value = os.environ.get(env_var) if env_var else None
    if value:
        return value
    return read_keys().get(key) or None


def smtp_password() -> str | None:
    """The SMTP password: $OUTREACH_SMTP_PASSWORD or smtp_password in the keys file."""
    return secret("OUTREACH_SMTP_PASSWORD", "smtp_password")


def imap_password() -> str | None:
    """The IMAP password: $OUTREACH_IMAP_PASSWORD or imap_password in the keys file."""
    return secret("OUTREACH_IMAP_PASSWORD", "imap_password")


def oauth_client_secret(provider: str) -> str | None:
    """An OAuth app's client secret: $OUTREACH_<PROVIDER>_CLIENT_SECRET or the keys file."""
    env, key = SECRET_HOMES[provider]
    return secret(env, key)


def database_password() -> str | None:
    """The database password: $OUTREACH_DATABASE_PASSWORD or database_password in the keys file.

    Without either, libpq's own PGPASSWORD and ~/.pgpass still apply.
    """
    return secret("OUTREACH_DATABASE_PASSWORD", "database_password")


def llm_api_key(settings: Settings) -> str | None:
    """The model's API key from the variable named by llm.api_key_env, or the keys file."""
    return secret(settings.llm.api_key_env, "llm_api_key")
