"""One error hierarchy. Messages name the file, line, key or record at fault and say how to fix it.

The command line turns any ``OutreachError`` into a one-line message and exit status 1.
"""

from __future__ import annotations


class OutreachError(Exception):
    """A user-facing error: the message is shown as is, on one line."""


class ConfigError(OutreachError):
    """config.toml, the keys file or the environment is wrong."""


class InputError(OutreachError):
    """A file or value the user gave us is wrong (CSV, JSON, notes, an option)."""


class StoreError(OutreachError):
    """The database cannot be used as it is (too new, unreachable)."""


class NotFound(OutreachError):
    """A named record does not exist."""


class TemplateError(OutreachError):
    """An email template cannot be loaded or rendered."""


class LLMError(OutreachError):
    """The model could not produce a usable answer."""


class StateError(OutreachError):
    """An action is not allowed in the record's current state (e.g. sending an unapproved draft)."""


class NotApproved(StateError):
    """The approval does not cover what would be sent now: a person must approve again."""


class SendError(OutreachError):
    """A message cannot be built or sent."""


class SyncError(OutreachError):
    """The inbox sync cannot run (lock held, server unreachable)."""


class SignInError(ConfigError):
    """A mailbox sign-in needs the person: a revoked or expired grant, a refused login."""


class SignInUnavailable(OutreachError):
    """The sign-in service cannot be reached just now; the saved sign-in is still good."""
