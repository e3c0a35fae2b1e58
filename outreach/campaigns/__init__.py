"""Campaigns: a template or a short sequence of follow-ups sent to many candidates.

``lifecycle`` creates, starts, pauses and drafts steps; ``followups`` schedules the next step
in business days; ``stats`` gives the honest numbers.
"""
