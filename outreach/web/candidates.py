"""Candidate pages: the searchable list with upload, and one person's page with everything
stored about them and what can be done (edit, tag, enrol, draft, export, forget).

Thin views: search is ``outreach.candidates.search``, the page ``overview``, changes
``editing``, imports ``records.import_file`` (the command line's, with its per-line errors),
erasure ``records.forget``. Every POST redirects (303); messages travel as flash notes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from outreach.campaigns import lifecycle
from outreach.candidates import editing, export, overview, records, retention, search
from outreach.drafting.drafter import Drafter, DraftSpec, make_llm
from outreach.drafting.templates import TemplateLibrary
from outreach.errors import InputError, OutreachError
from outreach.store.models import Campaign, utcnow
from outreach.web.auth import context, flash, page_user, render

router = APIRouter(include_in_schema=False)
Reviewer = Annotated[str, Depends(page_user)]
STATUSES = ("active", "opted_out", "bounced")
UPLOAD_LIMIT = 20 * 1024 * 1024  # bytes; a file of 100,000 candidates is well under it
SHOWN_ERRORS = 10  # per-line problems carried to the next page (the cookie is small)


def _query(params: Any) -> search.Query:
    page = str(params.get("page", "1"))
    status = str(params.get("status", ""))
    return search.Query(
        q=str(params.get("q", ""))[:200],
        tag=str(params.get("tag", ""))[:100],
        status=status if status in STATUSES else "",
        source=str(params.get("source", ""))[:200],
        page=int(page) if page.isdigit() and len(page) < 7 else 1,
    )


@router.get("/candidates", response_class=HTMLResponse)
def candidates_page(request: Request, user: Reviewer) -> Response:
    ctx = context(request)
    query = _query(request.query_params)
    with ctx.store.read() as session:
        found = search.search(session, query)
        tags = search.all_tags(session)
        sources = search.all_sources(session)
        requests = overview.open_requests(session)
    return render(
        request,
        "candidates.html",
        query=query,
        found=found,
        tags=tags,
        sources=sources,
        statuses=STATUSES,
        page_qs=lambda n: "?" + urlencode(query.params(page=n)),
        upload=request.session.pop("upload", None),
        requests=requests,
    )


@router.post("/candidates/upload")
async def upload(
    request: Request,
    user: Reviewer,
    file: UploadFile,
    tags: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
) -> Response:
    ctx = context(request)
    name = Path(file.filename or "upload.csv").name
    suffix = ".json" if name.lower().endswith(".json") else ".csv"
    data = await file.read(UPLOAD_LIMIT + 1)
    result: dict[str, Any] = {"file": name, "errors": [], "more": 0, "summary": ""}
    if len(data) > UPLOAD_LIMIT:
        result["errors"] = [
            f"{name}: larger than 20 MB; split it, or use `outreach candidates import`"
        ]
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(data)
            try:
                report = records.import_file(
                    ctx.store,
                    path,
                    tags=[t for t in tags.split(",") if t.strip()],
                    source=source,
                    actor=user,
                )
            except OutreachError as exc:
                result["errors"] = [str(exc).replace(str(path), name)]
            else:
                lines = [f"{name}, {e}" for e in report.errors] + [
                    f"{name}, {s}" for s in report.skipped
                ]
                result["errors"] = [line[:300] for line in lines[:SHOWN_ERRORS]]
                result["more"] = max(0, len(lines) - SHOWN_ERRORS)
                result["summary"] = (
                    f"Imported {report.created} new, {report.updated} updated, "
                    f"{report.unchanged} unchanged, {len(report.skipped)} suppressed, "
                    f"{len(report.errors)} bad rows."
                )
    request.session["upload"] = result
    return RedirectResponse("/candidates", status_code=303)


@router.get("/candidates/expiring", response_class=HTMLResponse)
def expiring_page(request: Request, user: Reviewer) -> Response:
    ctx = context(request)
    months = ctx.settings.privacy.retain_months
    with ctx.store.read() as session:
        due = retention.expiring(session, months, utcnow(), within_days=retention.SOON_DAYS)
    return render(request, "expiring.html", due=due, months=months, days=retention.SOON_DAYS)


@router.get("/candidates/{candidate_id}", response_class=HTMLResponse)
def candidate_page(request: Request, candidate_id: int, user: Reviewer) -> Response:
    ctx = context(request)
    with ctx.store.read() as session:
        data = overview.overview(session, overview.get(session, candidate_id))
        months = ctx.settings.privacy.retain_months
        data["expires_at"] = retention.expires_at(session, candidate_id, months)
        data["requests"] = [
            r
            for r in overview.open_requests(session, limit=500)
            if r["candidate_id"] == candidate_id
        ]
        campaigns = list(
            session.scalars(
                select(Campaign.name).where(Campaign.status == "active").order_by(Campaign.name)
            )
        )
    return render(
        request,
        "candidate.html",
        c=data,
        campaigns=campaigns,
        templates=TemplateLibrary(ctx.settings.templates_dir).names(),
        editable=editing.EDITABLE,
    )


def _back(candidate_id: int) -> RedirectResponse:
    return RedirectResponse(f"/candidates/{candidate_id}", status_code=303)


@router.post("/candidates/{candidate_id}/edit")
async def edit(request: Request, candidate_id: int, user: Reviewer) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if k in editing.EDITABLE and isinstance(v, str)}
    try:
        with context(request).store.session() as session:
            changed = editing.update_profile(
                session, overview.get(session, candidate_id), values, actor=user
            )
    except InputError as exc:
        flash(request, f"Not saved: {exc}", "error")
        return _back(candidate_id)
    flash(request, f"Saved {', '.join(changed)}." if changed else "Nothing changed.")
    return _back(candidate_id)


@router.post("/candidates/{candidate_id}/tags")
def tag(
    request: Request,
    candidate_id: int,
    user: Reviewer,
    tag: Annotated[str, Form()] = "",
    remove: Annotated[str, Form()] = "",
) -> Response:
    try:
        with context(request).store.session() as session:
            candidate = overview.get(session, candidate_id)
            changed = editing.set_tag(session, candidate, tag, on=not remove, actor=user)
    except InputError as exc:
        flash(request, str(exc), "error")
        return _back(candidate_id)
    if changed:
        flash(request, f"{'Removed' if remove else 'Added'} tag {tag.strip()}.")
    return _back(candidate_id)


def _email(request: Request, candidate_id: int) -> str:
    with context(request).store.read() as session:
        return overview.get(session, candidate_id).email


@router.post("/candidates/{candidate_id}/enrol")
async def enrol(
    request: Request, candidate_id: int, user: Reviewer, campaign: Annotated[str, Form()] = ""
) -> Response:
    ctx = context(request)
    email = _email(request, candidate_id)
    drafter = Drafter(ctx.settings, ctx.store, llm=make_llm(ctx.settings))
    try:
        report = await lifecycle.enrol(ctx.store, drafter, campaign, email, actor=user)
    except OutreachError as exc:
        flash(request, str(exc), "error")
        return _back(candidate_id)
    finally:
        await drafter.aclose()
    flash(request, f"Enrolled in {campaign}; {report.drafted} draft waits in the review queue.")
    for problem in report.problems:
        flash(request, problem, "error")
    return _back(candidate_id)


@router.post("/candidates/{candidate_id}/draft")
async def draft(
    request: Request, candidate_id: int, user: Reviewer, template: Annotated[str, Form()] = ""
) -> Response:
    ctx = context(request)
    email = _email(request, candidate_id)
    drafter = Drafter(ctx.settings, ctx.store, llm=make_llm(ctx.settings))
    try:
        report = await drafter.draft_many([email], DraftSpec(template=template))
    except OutreachError as exc:
        flash(request, str(exc), "error")
        return _back(candidate_id)
    finally:
        await drafter.aclose()
    for line in [*report.skipped, *report.failed]:
        flash(request, line, "error")
    if report.drafted:
        flash(request, f"Drafted {template}; read and approve it here.")
        return RedirectResponse(f"/drafts/{report.drafted[0]}", status_code=303)
    return _back(candidate_id)


@router.post("/candidates/{candidate_id}/forget")
def forget(
    request: Request,
    candidate_id: int,
    user: Reviewer,
    confirm: Annotated[str, Form()] = "",
    on_request: Annotated[str, Form()] = "",
) -> Response:
    ctx = context(request)
    email = _email(request, candidate_id)
    if confirm.strip().lower() != email:
        flash(request, "Not forgotten: type the person's email address to confirm.", "error")
        return _back(candidate_id)
    asked = "erasure" if on_request == "erasure" else ""
    records.forget(ctx.store, email, actor=user, request=asked)
    flash(request, f"Forgot {email}: everything about them is erased; the address is suppressed.")
    return RedirectResponse("/candidates", status_code=303)


@router.post("/candidates/{candidate_id}/export")
def export_zip(request: Request, candidate_id: int, user: Reviewer) -> Response:
    email = _email(request, candidate_id)
    data = export.export_zip(context(request).store, email, actor=user)
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in email)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}-export.zip"'},
    )


@router.post("/candidates/{candidate_id}/requests/handled")
def request_handled(
    request: Request, candidate_id: int, user: Reviewer, note: Annotated[str, Form()] = ""
) -> Response:
    with context(request).store.session() as session:
        candidate = overview.get(session, candidate_id)
        editing.mark_request_handled(session, candidate, actor=user, note=note)
    flash(request, "Marked the request as handled.")
    return _back(candidate_id)
