"""The thread headers of a message that answers another (RFC 5322 section 3.6.4).

In-Reply-To names the message answered; References is that message's References and its
In-Reply-To (when References lacks it: iOS Mail sends none, and our own drafts keep the two
apart) followed by its own Message-ID. Every answer we write, a reply from
the conversation page or a campaign's follow-up, gets its headers from ``answering``, so mail
clients (Gmail, Outlook, Apple Mail, Thunderbird) file it in the candidate's thread. A long
thread keeps its first message and the latest ones: some servers refuse header lines past
998 bytes, and the first and last ids are the ones clients thread by.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_REFERENCES = 20


def answering(
    message_id: str | None, references: Sequence[str] = (), in_reply_to: str | None = None
) -> tuple[str | None, list[str]]:
    """In-Reply-To and References for an answer to the message with these headers."""
    chain = [str(ref) for ref in references]
    if in_reply_to and in_reply_to not in chain:
        chain.append(in_reply_to)
    if message_id:
        chain.append(message_id)
    chain = list(dict.fromkeys(ref for ref in chain if ref))
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return (message_id or None), chain
