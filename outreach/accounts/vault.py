"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key outside the database.

The key comes from $OUTREACH_ACCOUNTS_KEY or ``accounts_key`` in the 0600 keys file under
OUTREACH_HOME. The first account that needs it creates it in the keys file, so a copy of the
database alone (a backup, a PostgreSQL dump) reveals no password and no refresh token.
Several keys separated by commas rotate: the first encrypts, any of them decrypts.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from outreach.config import keys_path, read_keys, secret
from outreach.errors import ConfigError

ENV = "OUTREACH_ACCOUNTS_KEY"
KEY = "accounts_key"


def _fernet(keys: str) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])
    except ValueError:
        raise ConfigError(
            f"{ENV} / {KEY} in {keys_path()} is not a Fernet key (32 url-safe base64 bytes); "
            "restore the key you used, or remove the accounts and add them again"
        ) from None


def cipher(*, create: bool = False) -> MultiFernet:
    """The account cipher; with ``create``, make the key in the keys file when there is none."""
    keys = secret(ENV, KEY)
    if keys:
        return _fernet(keys)
    if not create:
        raise ConfigError(
            f"no accounts key: set {ENV}, or put {KEY} in {keys_path()} (mode 0600); "
            "it was made by `outreach account add`"
        )
    return _fernet(_create_key())


def _create_key() -> str:
    """Append a new key to the keys file (created 0600), and check it reads back."""
    path = keys_path()
    read_keys()  # refuses a keys file others can read before a key goes into it
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as keys:
        keys.write("\n# Encrypts account passwords and sign-ins in the database.\n")
        keys.write(f'{KEY} = "{key}"\n')
    if read_keys().get(KEY) != key:
        raise ConfigError(
            f"{path}: could not add {KEY} at its end (is the last part a [table]?); "
            f'move the line {KEY} = "…" above the first [table]'
        )
    return key


def seal(data: dict[str, Any], *, create: bool = False) -> bytes:
    """Encrypt a secret (a password or an OAuth grant) for the accounts table."""
    return cipher(create=create).encrypt(json.dumps(data, sort_keys=True).encode())


def unseal(token: bytes, account: str) -> dict[str, Any]:
    """Decrypt an account's secret; a wrong or missing key is a ConfigError naming the account."""
    try:
        data = json.loads(cipher().decrypt(token))
    except InvalidToken:
        raise ConfigError(
            f"account {account}: its secret does not decrypt with {ENV} / {KEY}; restore the "
            f"key it was saved with, or run `outreach account connect {account}` again"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"account {account}: its saved secret is damaged; connect it again")
    return data
