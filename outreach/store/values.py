"""Values some text columns take, named once: draft kinds; candidate, enrolment, campaign states.

They are ``StrEnum``s, so a member is the very string stored in the column and compares equal
to it; code names the member instead of spelling the string. Draft and outbox states belong
to the review queue and the outbox, which own their transitions.
"""

from __future__ import annotations

from enum import StrEnum


class DraftKind(StrEnum):
    """What a draft is for (``drafts.kind``, ``outbox.kind``; a template's ``Kind:``)."""

    OUTREACH = "outreach"  # the first message of a campaign or a one-off
    FOLLOW_UP = "follow_up"  # a later step of a campaign, in the first message's thread
    FEEDBACK = "feedback"  # after an interview or a decision
    REPLY = "reply"  # an answer to the candidate's mail, in their thread


class EnrolmentStatus(StrEnum):
    """Where a candidate is in a campaign (``enrolments.status``)."""

    ACTIVE = "active"  # the next step is drafted when due
    HELD = "held"  # waiting: an out-of-office until a date, or a colleague in conversation
    COMPLETED = "completed"  # the last step was sent
    REPLIED = "replied"  # stopped: the candidate answered
    OPTED_OUT = "opted_out"  # stopped: they asked for no more mail
    BOUNCED = "bounced"  # stopped: their address does not take mail
    STOPPED = "stopped"  # stopped: a reviewer rejected a step and ended the sequence


class CandidateStatus(StrEnum):
    """Whether mail may go to a candidate at all (``candidates.status``)."""

    ACTIVE = "active"
    OPTED_OUT = "opted_out"
    BOUNCED = "bounced"


class CampaignStatus(StrEnum):
    """A campaign's state (``campaigns.status``)."""

    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    DONE = "done"


# Enrolments a stop rule still applies to.
LIVE_ENROLMENTS = (EnrolmentStatus.ACTIVE, EnrolmentStatus.HELD)
