"""The Art. 14 privacy notice: who holds a person's data, where it came from, their rights.

When personal data was not collected from the person (a profile found on LinkedIn, GitHub, a
referral), GDPR Art. 14 requires telling them, at the latest in the first message, who the
controller is, where the data came from, how long it is kept and that they may see or erase
it. The text is the recruiter's: ``templates/privacy_notice_<language>.txt`` (starters in
English and Swedish), rendered in a sandbox with the ``[privacy]`` settings and the
candidate's ``source``. Templates place it with ``{{ privacy.notice }}``; the drafter flags a
first contact to such a person whose text lacks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from outreach.config import PrivacySettings, Settings
from outreach.errors import TemplateError as OurTemplateError

FLAG = "privacy_notice"
_ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


def collected_from_them(source: str, settings: PrivacySettings) -> bool:
    """Whether the source says the person gave us the data themselves (e.g. "applied")."""
    wanted = source.strip().casefold()
    return any(wanted == direct.strip().casefold() for direct in settings.direct_sources)


def notice(settings: PrivacySettings, templates_dir: Path, *, source: str, language: str) -> str:
    """The notice for a person with this source, in their language; "" when none is due.

    None is due for data the person gave us, or before ``privacy.controller`` is set.
    """
    if not settings.controller.strip() or collected_from_them(source, settings):
        return ""
    code = (language or "en").split("-")[0].lower()
    for name in (f"privacy_notice_{code}.txt", "privacy_notice_en.txt"):
        path = templates_dir / name
        if path.is_file():
            break
    else:
        return ""
    values = {
        "controller": settings.controller.strip(),
        "contact": settings.contact.strip(),
        "policy_url": settings.policy_url.strip(),
        "retain_months": settings.retain_months,
        "source": source.strip(),
    }
    try:
        return _ENV.from_string(path.read_text(encoding="utf-8")).render(values).strip()
    except (TemplateError, OSError, UnicodeDecodeError) as exc:
        raise OurTemplateError(f"{path}: {exc}; fix the privacy notice") from None


def context(settings: Settings, person: Mapping[str, Any], language: str | None) -> dict[str, Any]:
    """The `privacy` object templates see (`language`: the template's, if the person has none)."""
    return {
        "notice": notice(
            settings.privacy,
            settings.templates_dir,
            source=str(person.get("source") or ""),
            language=str(person.get("language") or "") or language or "en",
        ),
        "controller": settings.privacy.controller,
        "contact": settings.privacy.contact,
        "policy_url": settings.privacy.policy_url,
    }


def missing_notice(
    settings: PrivacySettings, person: Mapping[str, Any], body: str, text: str
) -> dict[str, Any] | None:
    """A review flag when a first contact (the caller knows) to a sourced person lacks the notice.

    `text` is the notice that was due ("" when none is). A person without a recorded source
    is not flagged: the page shows their source as "not recorded" instead.
    """
    source = str(person.get("source") or "").strip()
    if not source or collected_from_them(source, settings):
        return None
    if text and text in body:
        return None
    if not settings.controller.strip():
        why = "set [privacy] controller and contact in config.toml, then regenerate"
    else:
        why = "keep {{ privacy.notice }} in the template, or write the notice back in"
    return {
        "code": FLAG,
        "message": f"first contact without the privacy notice (data from {source}); {why}",
        "text": "",
        "slot": None,
    }
