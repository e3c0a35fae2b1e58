"""`outreach reply EMAIL`: answer a candidate from the command line, in their thread.

The same path as the reply box of the conversation page (``conversations.replies``): the text
you write (in $EDITOR, with --message, or on stdin) or the draft you ask for (--draft) and
edit is shown in full, quote included, and on your yes it is approved as yours and queued.
"""

from __future__ import annotations

import asyncio
import sys

import click

from outreach.cli.context import App, actor_option, pass_app, reviewer
from outreach.conversations import reads, replies
from outreach.drafting.drafter import Drafter, make_llm
from outreach.errors import InputError
from outreach.mail.quoting import with_quote

HELP = "# Write your reply above. Lines starting with # are left out.\n"


def _edit(start: str, quoted: str, subject: str, to: str) -> str:
    """The reply written in $EDITOR, help and quote shown as # lines."""
    shown = "".join(f"# {line}\n" for line in quoted.splitlines())
    template = f"{start.rstrip()}\n\n{HELP}# To: {to}\n# Subject: {subject}\n#\n{shown}"
    edited = click.edit(template, extension=".txt", require_save=True)
    if edited is None:
        raise InputError("the editor closed without saving; nothing was sent")
    return (
        "\n".join(line for line in edited.splitlines() if not line.startswith("#")).strip() + "\n"
    )


@click.command()
@click.argument("email")
@click.option("--draft", "ask_draft", is_flag=True, help="Start from a draft (model or template).")
@click.option("--instruction", default="", help="With --draft: what the draft should say.")
@click.option("--message", help="The reply's text ('-' reads it from stdin); else $EDITOR opens.")
@click.option(
    "--conversation", "conversation_id", type=int, help="Conversation id (default: latest)."
)
@click.option("--yes", is_flag=True, help="Send without asking (the text is still printed).")
@actor_option
@pass_app
def reply(
    app: App,
    email: str,
    ask_draft: bool,
    instruction: str,
    message: str | None,
    conversation_id: int | None,
    yes: bool,
    named: str | None,
) -> None:
    """Answer a candidate in their thread: write (or draft), read it, approve it, queue it.

    The reply answers their latest message: In-Reply-To and References join their thread, the
    subject gets one "Re:", and their message is quoted below yours ([conversations] quote).
    It is approved as yours and goes out with the next `outreach send` (or `serve`).

    \b
    Example:
      outreach reply jamie@paywise.example
      outreach reply jamie@paywise.example --draft --instruction "offer Tuesday at 10"
      echo "Thanks, Tuesday works." | outreach reply jamie@paywise.example --message - --yes
    """
    actor = reviewer(app, named)
    data = reads.show_conversation(app.store, email)
    threads = [t for t in data.conversations if conversation_id in (None, t.id)]
    if not threads:
        raise InputError(
            f"{data.email} has no conversation to answer; "
            f"see `outreach conversations show {data.email}`"
        )
    thread = threads[0]
    if ask_draft:
        drafter = Drafter(app.settings, app.store, llm=make_llm(app.settings))

        async def run() -> int:
            try:
                return await replies.draft_reply(
                    app.store, app.settings, drafter, data.email,
                    instruction=instruction, conversation_id=thread.id,
                )  # fmt: skip
            finally:
                await drafter.aclose()

        asyncio.run(run())
    box = replies.reply_box(
        app.store, app.settings, thread, data.email, viewer=actor, now=app.clock()
    )
    if message == "-":
        text = sys.stdin.read()
    elif message is not None:
        text = message
    elif box.text and yes:
        text = box.text
    else:
        text = _edit(box.text, box.quoted, box.subject, data.email)
    if not text.strip():
        raise InputError("the reply is empty; nothing was sent")
    app.console.print(f"To: {data.email}\nSubject: {box.subject}\n", markup=False)
    app.console.print(with_quote(text, box.quoted), markup=False)
    if not yes and not click.confirm("Send this reply, approved as yours?", default=False):
        raise click.exceptions.Exit(1)
    queued = replies.send_reply(
        app.store, app.settings, data.email, text, actor=actor, now=app.clock(),
        conversation_id=thread.id, message_id=box.answering,
        draft_id=box.draft_id, seen=box.revision,
    )  # fmt: skip
    app.console.print(
        f"approved and queued for {queued.to} (draft {queued.draft_id}, {queued.message_id}); "
        "`outreach send` sends it",
        markup=False,
    )
