"""outreach: drafts personal recruiting mail, a human approves every one, sent exactly once."""

__version__ = "0.1.0"
