"""Settings, secrets, the clock and the loopback test: what every layer may read.

``settings``: config.toml into frozen, typed ``Settings`` (errors name key and line).
``secrets``: passwords and keys from the environment or the 0600 keys file, never the TOML.
``clock``: real time, or the fixed ``OUTREACH_NOW``; ``hosts``: ``is_loopback``.
"""

from __future__ import annotations

from outreach.config.clock import Clock, from_env, real_time
from outreach.config.hosts import is_loopback
from outreach.config.secrets import (
    KEYS_NAME,
    SECRET_HOMES,
    SECRET_KEYS,
    URL_KEYS,
    database_password,
    imap_password,
    keys_path,
    llm_api_key,
    oauth_client_secret,
    outreach_home,
    read_keys,
    redact_url,
    secret,
    smtp_password,
    url_secret,
)
from outreach.config.settings import (
    CONFIG_NAME,
    WORKING_HOURS,
    CampaignSettings,
    DatabaseSettings,
    GoogleSettings,
    ImapSettings,
    LLMSettings,
    MicrosoftSettings,
    PacingSettings,
    SenderSettings,
    Settings,
    SmtpSettings,
    SyncSettings,
    TemplateSettings,
    WebSettings,
    check_timezone,
    find_config,
    key_line,
    load_config,
    settings_from_dict,
)

__all__ = [
    "CONFIG_NAME",
    "KEYS_NAME",
    "SECRET_HOMES",
    "SECRET_KEYS",
    "URL_KEYS",
    "WORKING_HOURS",
    "CampaignSettings",
    "Clock",
    "DatabaseSettings",
    "GoogleSettings",
    "ImapSettings",
    "LLMSettings",
    "MicrosoftSettings",
    "PacingSettings",
    "SenderSettings",
    "Settings",
    "SmtpSettings",
    "SyncSettings",
    "TemplateSettings",
    "WebSettings",
    "check_timezone",
    "database_password",
    "find_config",
    "from_env",
    "imap_password",
    "is_loopback",
    "key_line",
    "keys_path",
    "llm_api_key",
    "load_config",
    "oauth_client_secret",
    "outreach_home",
    "read_keys",
    "real_time",
    "redact_url",
    "secret",
    "settings_from_dict",
    "smtp_password",
    "url_secret",
]
