"""config.toml into frozen, typed settings.

Errors name the key and, where the TOML text tells us, its line, and say how to fix it.
Secrets never live in config.toml: a password, token or key found there is refused, and so is
one inside a URL (``postgresql://user:pass@host/db``, ``?api_key=...``); see ``secrets``.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from outreach.config.hosts import is_loopback
from outreach.config.secrets import SECRET_HOMES, SECRET_KEYS, URL_KEYS, keys_path, url_secret
from outreach.errors import ConfigError

CONFIG_NAME = "config.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SenderSettings(_Section):
    name: str = "Recruiter"
    email: str = "recruiter@example.com"
    timezone: str = "UTC"
    signature: str = ""
    html: bool = False  # also send an HTML part, rendered from the text as Markdown, sanitised

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError(f"{value!r} is not an email address")
        return value.strip().lower()


class DatabaseSettings(_Section):
    url: str = "sqlite:///outreach.db"


class SmtpSettings(_Section):
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "starttls"
    username: str = ""
    oauth2_token_command: str = ""
    timeout_seconds: float = Field(30.0, gt=0)


class ImapSettings(_Section):
    host: str = ""
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str = ""
    folders: tuple[str, ...] = ()
    maildir: str = ""
    append_sent: Literal["auto", "always", "never"] = "auto"
    oauth2_token_command: str = ""
    timeout_seconds: float = Field(30.0, gt=0)


class LLMSettings(_Section):
    provider: Literal["none", "openai"] = "none"
    model: str = "gpt-4o-mini"
    base_url: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(4, ge=1, le=64)
    timeout_seconds: float = Field(60.0, gt=0)
    max_retry_seconds: float = Field(90.0, ge=0)
    max_tokens_per_day: int = Field(0, ge=0)  # 0: no limit; counted from the stored calls
    max_tokens_per_run: int = Field(0, ge=0)
    verify: bool = False  # a second call lists claims the inputs do not support


class CompanySettings(_Section):
    """The hiring company as candidates may learn it: a fact source for drafts."""

    name: str = ""
    about: str = ""
    website: str = ""
    values: tuple[str, ...] = ()


WORKING_HOURS = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)-(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([01]\d|2[0-3]):([0-5]\d)-"
    r"([01]\d|2[0-4]):([0-5]\d)$"
)


class PacingSettings(_Section):
    daily_cap: int = Field(100, ge=1)
    min_gap_seconds: int = Field(90, ge=0)
    jitter_seconds: int = Field(30, ge=0)
    working_hours: str = "Mon-Fri 09:00-17:00"
    first_contact_cap: int = Field(2, ge=1)
    first_contact_window_days: int = Field(30, ge=1)

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        if value != "always" and not WORKING_HOURS.match(value):
            raise ValueError('write it like "Mon-Fri 09:00-17:00", or "always"')
        return value


class SyncSettings(_Section):
    since: date = date(2026, 1, 1)
    interval_minutes: int = Field(15, ge=1)
    suggest_replies: bool = False
    max_body_bytes: int = Field(5_000_000, ge=10_000)
    idle_folders: tuple[str, ...] = ("INBOX",)  # kept in IMAP IDLE by `serve`; () polls only
    idle_renew_minutes: int = Field(25, ge=1, le=29)
    idle_quiet_seconds: int = Field(300, ge=5)


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)


class CampaignSettings(_Section):
    company_cap: int = Field(3, ge=1)
    holidays: tuple[date, ...] = ()


class ConversationSettings(_Section):
    answer_within_days: float = Field(2, gt=0)  # a candidate waiting longer is overdue
    feedback_within_days: float = Field(5, gt=0)  # after an interview, feedback is owed by then
    quote: bool = True  # replies quote the message they answer, as mail clients do


class TemplateSettings(_Section):
    dir: str = "templates"


class PrivacySettings(_Section):
    """Who answers for candidates' data (GDPR Art. 14 notice) and how long it is kept."""

    controller: str = ""  # the company responsible for the data, e.g. "Nordlys AB"
    contact: str = ""  # where people write about their data, e.g. "privacy@nordlys.example"
    policy_url: str = ""  # the full privacy policy
    retain_months: int = Field(0, ge=0, le=600)  # 0: keep until forgotten
    # Sources that mean the person gave us the data themselves (no Art. 14 notice needed).
    direct_sources: tuple[str, ...] = ("applied",)


class _OAuthApp(_Section):
    """An OAuth app registered with a provider; empty URLs mean the provider's own."""

    client_id: str = ""
    authorize_url: str = ""
    token_url: str = ""
    device_url: str = ""
    revoke_url: str = ""

    @field_validator("authorize_url", "token_url", "device_url", "revoke_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if value and not (value.startswith("https://") or _loopback_http(value)):
            raise ValueError("use an https:// URL (plain http only for 127.0.0.1 or localhost)")
        return value


class GoogleSettings(_OAuthApp):
    """The Google Cloud OAuth client (Desktop app); its secret: env or keys file."""


class MicrosoftSettings(_OAuthApp):
    """The Microsoft Entra app registration (public client); tenant: common or a tenant id."""

    tenant: str = "common"

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9.\-]+", value):
            raise ValueError("write a tenant id or domain, or common / organizations")
        return value


def _loopback_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme == "http" and is_loopback(parts.hostname or "")
    except ValueError:
        return False


class Settings(_Section):
    sender: SenderSettings = SenderSettings()
    database: DatabaseSettings = DatabaseSettings()
    smtp: SmtpSettings = SmtpSettings()
    imap: ImapSettings = ImapSettings()
    llm: LLMSettings = LLMSettings()
    company: CompanySettings = CompanySettings()
    pacing: PacingSettings = PacingSettings()
    sync: SyncSettings = SyncSettings()
    web: WebSettings = WebSettings()
    campaigns: CampaignSettings = CampaignSettings()
    conversations: ConversationSettings = ConversationSettings()
    templates: TemplateSettings = TemplateSettings()
    privacy: PrivacySettings = PrivacySettings()
    google: GoogleSettings = GoogleSettings()
    microsoft: MicrosoftSettings = MicrosoftSettings()
    # Where the file was read from: relative paths in it are relative to this folder.
    base_dir: Path = Path(".")

    def path(self, value: str) -> Path:
        """Resolve a path from the config relative to the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(url[len(prefix) :]))
        return url

    @property
    def templates_dir(self) -> Path:
        """The folder of the recruiter's email templates."""
        return self.path(self.templates.dir)


def check_timezone(value: str) -> str:
    """Return the zone name if zoneinfo knows it, else raise ValueError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {value!r}; use an IANA name like Europe/Stockholm"
        ) from None
    return value


def find_config(explicit: str | Path | None = None) -> Path:
    """Find config.toml: the explicit path, $OUTREACH_CONFIG, or the current folder."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("OUTREACH_CONFIG")
    return Path(env) if env else Path.cwd() / CONFIG_NAME


def load_config(path: str | Path) -> Settings:
    """Read and validate config.toml into Settings; raise ConfigError naming the key and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file; run `outreach init` to create one, or pass --config PATH"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc}); save it as UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}; fix that line") from None
    return settings_from_dict(data, path=path, text=text)


def settings_from_dict(data: Mapping[str, Any], *, path: Path, text: str = "") -> Settings:
    """Validate a parsed TOML mapping; errors name path, key and line."""
    _refuse_secrets(data, path, text)
    _refuse_url_secrets(data, path, text)
    _refuse_unknown(data, path, text)
    try:
        return Settings.model_validate({**data, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict | list) and got is not None else ""
        raise ConfigError(f"{_where(path, text, key)}: {key}: {message}{shown}") from None


def _refuse_secrets(data: Mapping[str, Any], path: Path, text: str, prefix: str = "") -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _refuse_secrets(value, path, text, dotted + ".")
        elif key.lower() in SECRET_KEYS:
            section = prefix.rstrip(".") or key
            env, keyfile = SECRET_HOMES.get(
                section, ("an environment variable", f"{section}_{key}")
            )
            raise ConfigError(
                f"{_where(path, text, dotted)}: {dotted}: secrets don't belong in config.toml; "
                f"remove it and set {env}, or put {keyfile} in {keys_path()} (mode 0600)"
            )


def _refuse_url_secrets(data: Mapping[str, Any], path: Path, text: str) -> None:
    for section, (key, also) in URL_KEYS.items():
        body = data.get(section)
        value = body.get(key) if isinstance(body, Mapping) else None
        found = url_secret(value) if isinstance(value, str) else None
        if found:
            dotted = f"{section}.{key}"
            env, keyfile = SECRET_HOMES[section]
            raise ConfigError(
                f"{_where(path, text, dotted)}: {dotted}: {found} in the URL doesn't belong in "
                f"config.toml; remove it and set {env}, or put {keyfile} in {keys_path()} "
                f"(mode 0600){also}"
            )


def _refuse_unknown(data: Mapping[str, Any], path: Path, text: str) -> None:
    sections = {
        name: field.annotation
        for name, field in Settings.model_fields.items()
        if name != "base_dir"
    }
    for section, body in data.items():
        if section not in sections:
            raise ConfigError(f"{_where(path, text, section)}: {_unknown(section, sections)}")
        model = sections[section]
        if isinstance(body, Mapping) and isinstance(model, type) and issubclass(model, BaseModel):
            for key in body:
                if key not in model.model_fields:
                    dotted = f"{section}.{key}"
                    raise ConfigError(
                        f"{_where(path, text, dotted)}: "
                        f"{_unknown(dotted, model.model_fields, prefix=section + '.')}"
                    )


def _unknown(key: str, known: Mapping[str, object], prefix: str = "") -> str:
    short = key.removeprefix(prefix)
    close = difflib.get_close_matches(short, list(known), n=1)
    hint = f"did you mean {prefix}{close[0]}?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key {key}; {hint}"


def _where(path: Path, text: str, dotted: str) -> str:
    line = key_line(text, dotted)
    return f"{path}, line {line}" if line else str(path)


def key_line(text: str, dotted: str) -> int | None:
    """Find the line of `section.key` (or `[section]`) in TOML text; None when not found."""
    parts = dotted.split(".")
    section, key = (parts[0], parts[1]) if len(parts) > 1 else (None, parts[0])
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1)
            if section is None and current == key:
                return number
            continue
        match = re.match(r"^([A-Za-z0-9_\-\"']+)\s*=", line)
        if match and match.group(1).strip("\"'") == key and current == section:
            return number
    return None
