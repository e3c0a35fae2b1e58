"""`outreach queue …`: list, show, edit, approve, reject and regenerate drafts; decide held ones."""

from __future__ import annotations

import asyncio
import re

import click
from rich.table import Table

from outreach.campaigns import followups
from outreach.cli.context import App, actor_option, pass_app, print_json, reviewer
from outreach.drafting import flagging
from outreach.drafting.drafter import Drafter, make_llm
from outreach.errors import InputError
from outreach.review import edits, held, opened
from outreach.review import queue as core
from outreach.review import reads as review
from outreach.review.models import DraftDetail
from outreach.store.values import DraftKind

HEADER = re.compile(r"\ASubject:[ \t]*(?P<subject>[^\n]*)\n(?:[ \t]*\n)?(?P<body>.*)\Z", re.DOTALL)


@click.group("queue")
def queue_group() -> None:
    """Review drafts: nothing is sent until a person approves it.

    \b
    Example:
      outreach queue list
      outreach queue show 12 && outreach queue approve 12
    """


@queue_group.command("list")
@click.option(
    "--status",
    type=click.Choice(review.STATUSES),
    default=core.PENDING,
    show_default=True,
    help="Drafts in this status.",
)
@click.option("--kind", type=click.Choice(tuple(DraftKind)), help="Only this kind of draft.")
@click.option("--campaign", type=int, help="Only drafts of this campaign id.")
@click.option("--flagged/--not-flagged", default=None, help="Only drafts with (or without) flags.")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def list_(
    app: App,
    status: str,
    kind: str | None,
    campaign: int | None,
    flagged: bool | None,
    page: int,
    as_json: bool,
) -> None:
    """List drafts, newest due first, 50 to a page.

    \b
    Example:
      outreach queue list --status pending --flagged --json
    """
    filters = review.Filters(status=status, campaign=campaign, kind=kind, flagged=flagged)
    with app.store.session() as session:
        listing = review.list_drafts(session, filters, page=page)
    if as_json:
        print_json(listing.model_dump(exclude={"counts"}))
        return
    table = Table("id", "candidate", "subject", "template", "flags", "due")
    for row in listing.items:
        table.add_row(
            str(row.id),
            row.candidate_name or row.candidate_email,
            row.subject + (" (held)" if row.hold_reason else ""),
            row.template,
            str(row.flags or ""),
            row.due_at.strftime("%Y-%m-%d %H:%M"),
        )
    app.console.print(table)
    for row in listing.items:
        if row.hold_reason:
            app.console.print(f"draft {row.id} held: {row.hold_reason}", markup=False)
    app.console.print(f"{listing.total} {status} drafts; page {listing.page} of {listing.pages}")


@queue_group.command("show")
@click.argument("draft_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@actor_option
@pass_app
def show(app: App, draft_id: int, as_json: bool, named: str | None) -> None:
    """Show a draft: candidate, flags, the text and what changed since the first revision.

    Showing a draft records that you opened it.

    \b
    Example:
      outreach queue show 12
    """
    actor = reviewer(app, named)
    with app.store.session() as session:
        draft = core.get_draft(session, draft_id)
        opened.mark_viewed(session, draft, actor, now=app.clock())
        detail = review.draft_detail(session, draft)
    if as_json:
        print_json(detail.model_dump())
        return
    _show(app, detail)


def _show(app: App, detail: DraftDetail) -> None:
    person = detail.candidate
    echo = app.console.print
    echo(f"[bold]draft {detail.id}[/] · {detail.status} · {detail.kind} · "
         f"{detail.template} · revision {detail.revision} by {detail.author}",
         markup=True)  # fmt: skip
    echo(f"to: {person['name']} <{person['email']}>", markup=False)
    if detail.hold_reason and detail.status == core.PENDING:
        echo(f"held: {detail.hold_reason}", markup=False)
    for flag in detail.flags:
        words = flag.get("label") or flagging.label(str(flag.get("code", "")))
        echo(f"flag: {words}: {flag.get('message', '')}", markup=False)
    if detail.error:  # e.g. why an approval was withdrawn
        echo(f"note: {detail.error}", markup=False)
    echo("")
    echo(f"Subject: {detail.subject}", markup=False)
    echo("")
    echo(detail.body, markup=False)
    if detail.changed:
        changes = sum(1 for s in detail.diff_body if s.op != "equal")
        echo(f"\n({changes} changes since revision 1)", markup=False)


def parse_edit(text: str) -> tuple[str, str]:
    """Subject and body from the editor's text: a `Subject:` line, a blank line, the body."""
    match = HEADER.match(re.sub(r"\r\n?", "\n", text))
    if match is None:
        raise InputError("the first line must be `Subject: ...`; nothing saved")
    return match["subject"], match["body"]


@queue_group.command("edit")
@click.argument("draft_id", type=int)
@actor_option
@pass_app
def edit(app: App, draft_id: int, named: str | None) -> None:
    """Edit a draft's subject and body in $EDITOR; saving makes a new revision.

    Editing an approved draft withdraws its approval.

    \b
    Example:
      EDITOR=nano outreach queue edit 12
    """
    actor = reviewer(app, named)
    with app.store.session() as session:
        draft = core.get_draft(session, draft_id)
        now = core.current(session, draft)
        before = f"Subject: {now.subject}\n\n{now.body}"
        opened.mark_viewed(session, draft, actor, now=app.clock())  # the editor shows it
    edited = click.edit(before, extension=".txt", require_save=True)
    if edited is None:
        app.console.print(f"draft {draft_id}: nothing changed")
        return
    subject, body = parse_edit(edited)
    with app.store.session() as session:
        saved = edits.save_edit(
            session, draft_id, subject=subject, body=body, actor=actor, now=app.clock()
        )
    if not saved.changed:
        app.console.print(f"draft {draft_id}: nothing changed")
        return
    note = "; its approval was withdrawn" if saved.withdrawn else ""
    app.console.print(f"draft {draft_id}: saved revision {saved.revision}{note}")


@queue_group.command("approve")
@click.argument("draft_ids", type=int, nargs=-1, required=True)
@click.option(
    "--unread", is_flag=True, help="Approve the current text even if you have not displayed it."
)
@actor_option
@pass_app
def approve(app: App, draft_ids: tuple[int, ...], unread: bool, named: str | None) -> None:
    """Approve drafts you have read: records who, when, the revision and a SHA-256 of the text.

    A draft is approved at the revision `queue show` or `queue edit` last displayed to you;
    one that changed since is refused, with its new text. --unread approves the current text
    unseen.

    \b
    Example:
      outreach queue show 12 && outreach queue approve 12 --as maria
    """
    actor = reviewer(app, named)
    sender = app.settings.sender.email
    for draft_id in draft_ids:
        changed: core.ChangedSinceOpened | None = None
        with app.store.session() as session:
            draft = core.get_draft(session, draft_id, lock=True)
            seen = None if unread else opened.seen_revision(session, draft_id, actor)
            if seen is None and not unread:
                raise InputError(
                    f"draft {draft_id}: {actor} has not read it; run `outreach queue show "
                    f"{draft_id}` first (or pass --unread)"
                )
            try:
                core.approve(session, draft, actor=actor, sender=sender, seen=seen, now=app.clock())
            except core.ChangedSinceOpened as exc:
                changed, detail = exc, review.draft_detail(session, draft)
                opened.mark_viewed(session, draft, actor, now=app.clock())  # displayed below
            digest = draft.approved_hash or ""
        if changed is not None:
            _show(app, detail)
            raise changed
        app.console.print(f"approved draft {draft_id} as {actor} (sha256 {digest[:12]})")


@queue_group.command("reject")
@click.argument("draft_id", type=int)
@click.option("--reason", required=True, help="Why it must not be sent.")
@click.option(
    "--then",
    type=click.Choice(["skip", "stop", "rewrite"]),
    help="For a campaign step: skip it, stop the person's sequence, or rewrite it (the reason "
    "is the instruction; nothing is rejected).",
)
@actor_option
@pass_app
def reject(app: App, draft_id: int, reason: str, then: str | None, named: str | None) -> None:
    """Reject a draft, with a reason; for a campaign step, say what comes next (--then).

    \b
    Example:
      outreach queue reject 12 --reason "wrong team"
      outreach queue reject 14 --reason "too pushy" --then rewrite
    """
    actor = reviewer(app, named)
    if then == "rewrite":
        number = _regenerate(app, draft_id, reason, actor)
        app.console.print(f"draft {draft_id}: rewritten as revision {number}; read and approve it")
        return
    with app.store.session() as session:
        draft = core.get_draft(session, draft_id, lock=True)
        if followups.is_step(draft) and draft.status in core.OPEN:
            if then is None:
                raise InputError(
                    f"draft {draft_id} is a campaign step: say what comes next with "
                    "--then skip|stop|rewrite"
                )
            outcome = followups.reject_step(
                session, draft, then=then, reason=reason, actor=actor, settings=app.settings,
                now=app.clock(),
            )  # fmt: skip
        else:
            core.reject(session, draft, actor=actor, reason=reason, now=app.clock())
            outcome = ""
    app.console.print(f"rejected draft {draft_id}" + (f"; {outcome}" if outcome else ""))


def _regenerate(app: App, draft_id: int, instruction: str, actor: str) -> int:
    async def run() -> int:
        drafter = Drafter(app.settings, app.store, llm=make_llm(app.settings))
        try:
            revision = await drafter.regenerate(draft_id, instruction, actor=actor)
            return revision.number
        finally:
            await drafter.aclose()

    return asyncio.run(run())


@queue_group.command("held")
@pass_app
def held_list(app: App) -> None:
    """List drafts held because the candidate wrote after you edited or approved them.

    Decide each: `queue send-anyway`, `queue regenerate` (rewrite) or `queue drop`.

    \b
    Example:
      outreach queue held
    """
    with app.store.read() as session:
        rows = [(d.id, d.kind, d.hold_reason) for d in held.held_drafts(session)]
    for draft_id, kind, reason in rows:
        app.console.print(f"draft {draft_id} ({kind.replace('_', ' ')}): {reason}", markup=False)
    app.console.print(f"{len(rows)} held")


@queue_group.command("send-anyway")
@click.argument("draft_id", type=int)
@actor_option
@pass_app
def send_anyway(app: App, draft_id: int, named: str | None) -> None:
    """Approve a held draft as it is, after reading the news: it is sent in its turn.

    \b
    Example:
      outreach queue show 12 && outreach queue send-anyway 12
    """
    actor = reviewer(app, named)
    with app.store.session() as session:
        draft = core.get_draft(session, draft_id, lock=True)
        seen = opened.seen_revision(session, draft_id, actor)
        if seen is None:
            raise InputError(f"draft {draft_id}: run `outreach queue show {draft_id}` first")
        held.send_anyway(
            session, draft, actor=actor, sender=app.settings.sender.email, seen=seen,
            now=app.clock(),
        )  # fmt: skip
    app.console.print(f"approved held draft {draft_id} as {actor}; it goes out in its turn")


@queue_group.command("drop")
@click.argument("draft_id", type=int)
@actor_option
@pass_app
def drop(app: App, draft_id: int, named: str | None) -> None:
    """Drop a held draft: after the candidate's news it is not sent.

    \b
    Example:
      outreach queue drop 12
    """
    actor = reviewer(app, named)
    with app.store.session() as session:
        draft = core.get_draft(session, draft_id, lock=True)
        held.drop(session, draft, actor=actor, now=app.clock())
    app.console.print(f"dropped draft {draft_id}")


@queue_group.command("regenerate")
@click.argument("draft_id", type=int)
@click.option("--instruction", default="", help="What to change, e.g. 'shorter, less formal'.")
@actor_option
@pass_app
def regenerate(app: App, draft_id: int, instruction: str, named: str | None) -> None:
    """Rewrite a draft with the model as a new revision; earlier revisions are kept.

    A held draft is rewritten with its news as the instruction unless you give one.

    \b
    Example:
      outreach queue regenerate 12 --instruction "shorter; mention the Kafka migration"
    """
    actor = reviewer(app, named)
    if not instruction:
        with app.store.read() as session:
            news = core.get_draft(session, draft_id).hold_reason
        instruction = held.rewrite_instruction(news) if news else ""
    number = _regenerate(app, draft_id, instruction, actor)
    app.console.print(f"draft {draft_id}: regenerated as revision {number}")
