"""config.toml: every mistake names the key and line and says how to fix it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from outreach.config import Settings, imap_password, load_config, smtp_password
from outreach.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_repo_example_is_valid_and_has_every_section() -> None:
    settings = load_config(REPO / "config.toml")
    assert settings.sender.email == "maria@nordlys.example"
    text = (REPO / "config.toml").read_text()
    for section in Settings.model_fields:
        if section != "base_dir":
            assert f"[{section}]" in text, f"config.toml lacks [{section}]"
            model = Settings.model_fields[section].annotation
            for key in model.model_fields:  # type: ignore[union-attr]
                assert f"\n{key} =" in text, f"config.toml lacks {section}.{key}"


def test_defaults_and_relative_database_path(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, ""))
    assert settings.database_url == f"sqlite:///{tmp_path / 'outreach.db'}"
    assert settings.llm.provider == "none"
    assert settings.templates_dir == tmp_path / "templates"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[smtp]\nport = 'many'\n", "line 2: smtp.port: Input should be a valid integer"),
        ("[smtp]\nhost = 'x'\nsecurity = 'ssl'\n", "line 3: smtp.security: Input should be"),
        ("[sender]\ntimezone = 'Mars/Olympus'\n", "unknown timezone 'Mars/Olympus'"),
        ("[pacing]\nworking_hours = '9 to 5'\n", 'write it like "Mon-Fri 09:00-17:00"'),
        ("[smtp]\nhots = 'x'\n", "line 2: unknown key smtp.hots; did you mean smtp.host?"),
        ("[smpt]\nhost = 'x'\n", "line 1: unknown key smpt; did you mean smtp?"),
        ("[llm]\nconcurrency = 0\n", "llm.concurrency: Input should be greater than or equal to 1"),
    ],
)
def test_bad_values_name_key_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert expected in str(info.value)
    assert str(tmp_path / "config.toml") in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "where", "home"),
    [
        (
            "[smtp]\nusername = 'm'\npassword = 'hunter2'\n",
            "line 3: smtp.password",
            "OUTREACH_SMTP_PASSWORD",
        ),
        ("[imap]\npassword = 'hunter2'\n", "line 2: imap.password", "OUTREACH_IMAP_PASSWORD"),
        ("[llm]\napi_key = 'sk-123'\n", "line 2: llm.api_key", "llm_api_key"),
    ],
)
def test_secrets_in_the_toml_are_refused(tmp_path: Path, text: str, where: str, home: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert where in message and home in message and "keys.toml" in message
    assert "hunter2" not in message and "sk-123" not in message


def test_missing_file_and_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; run `outreach init`"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"TOML syntax error: .*line 2"):
        load_config(write(tmp_path, "[smtp]\nhost = \n"))


def test_secrets_from_env_then_keys_file(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = Path(os.environ["OUTREACH_HOME"]) / "keys.toml"
    assert smtp_password() is None
    keys.write_text('smtp_password = "from-file"\nimap_password = "imap-file"\n')
    keys.chmod(0o600)
    assert smtp_password() == "from-file"
    monkeypatch.setenv("OUTREACH_SMTP_PASSWORD", "from-env")
    assert smtp_password() == "from-env"
    assert imap_password() == "imap-file"


def test_keys_file_readable_by_others_is_refused() -> None:
    keys = Path(os.environ["OUTREACH_HOME"]) / "keys.toml"
    keys.write_text('smtp_password = "x"\n')
    keys.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        smtp_password()
