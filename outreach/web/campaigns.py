"""Campaign pages and their JSON: status, funnel, replies over time, and what went wrong."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from outreach.campaigns import lifecycle as campaigns
from outreach.campaigns import stats as campaign_stats
from outreach.sending import outbox as sending
from outreach.store.models import Campaign
from outreach.store.values import CampaignStatus
from outreach.web.auth import api_user, context, flash, page_user, render
from outreach.web.charts import funnel, per_day

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api")
Reviewer = Annotated[str, Depends(page_user)]
ApiReviewer = Annotated[str, Depends(api_user)]


def _names(request: Request) -> list[str]:
    with context(request).store.session() as session:
        return list(session.scalars(select(Campaign.name).order_by(Campaign.created_at.desc())))


def _stages(stats: campaign_stats.CampaignStats) -> list[tuple[str, int]]:
    totals = stats.totals
    first = stats.steps[0] if stats.steps else None
    return [
        ("Enrolled", stats.enrolled),
        ("Drafted (step 1)", first.drafted if first else 0),
        ("Approved (step 1)", first.approved if first else 0),
        ("Sent (step 1)", first.sent if first else 0),
        ("Replied", stats.human_replies),
        ("Positive", stats.positive_replies),
    ] + ([("Follow-ups sent", totals["sent"] - (first.sent if first else 0))] if first else [])


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request, user: Reviewer) -> Response:
    store = context(request).store
    rows = [campaign_stats.collect(store, name) for name in _names(request)]
    return render(request, "campaigns.html", rows=rows)


@router.get("/campaigns/{name}", response_class=HTMLResponse)
def campaign_page(request: Request, name: str, user: Reviewer) -> Response:
    stats = campaign_stats.collect(context(request).store, name)
    return render(
        request,
        "campaign.html",
        s=stats,
        funnel=funnel(_stages(stats)),
        replies=per_day(stats.replies_by_day),
    )


@router.post("/campaigns/{name}/pause")
def pause(request: Request, name: str, user: Reviewer) -> Response:
    campaigns.set_status(context(request).store, name, CampaignStatus.PAUSED, actor=user)
    flash(request, f"Paused {name}: nothing of it is drafted or sent until you resume.")
    return RedirectResponse(f"/campaigns/{name}", status_code=303)


@router.post("/campaigns/{name}/resume")
def resume(request: Request, name: str, user: Reviewer) -> Response:
    campaigns.set_status(context(request).store, name, CampaignStatus.ACTIVE, actor=user)
    flash(request, f"Resumed {name}.")
    return RedirectResponse(f"/campaigns/{name}", status_code=303)


@router.post("/campaigns/{name}/retry")
def retry(request: Request, name: str, user: Reviewer) -> Response:
    ctx = context(request)
    with ctx.store.session() as session:
        campaign = campaigns.get(session, name)
        count = sending.retry_campaign(session, campaign, actor=user, now=ctx.clock())
    flash(request, f"Queued {count} failed message(s) to be sent again.")
    return RedirectResponse(f"/campaigns/{name}", status_code=303)


@api.get("/campaigns")
def api_list(request: Request, user: ApiReviewer) -> list[dict[str, Any]]:
    """Every campaign with its numbers."""
    store = context(request).store
    return [campaign_stats.collect(store, n).as_dict() for n in _names(request)]


@api.get("/campaigns/{name}")
def api_show(request: Request, name: str, user: ApiReviewer) -> dict[str, Any]:
    """One campaign's numbers per step, its replies per day and its failed/uncertain messages."""
    stats = campaign_stats.collect(context(request).store, name)
    return {**stats.as_dict(), "totals": stats.totals}
