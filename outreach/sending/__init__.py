"""Sending: the outbox, the ledger, pacing and the sender loop.

Approved drafts are frozen as exact bytes into the outbox (``outbox``), claimed and recorded
by the ``ledger`` so that each goes out exactly once or visibly not, paced like a person
(``pacing``), over the recruiter's own server (``lanes``, over ``outreach.servers.smtp``). One
``sender`` per mailbox (``lock``); the Sent folder settles what a crash left uncertain
(``sent_folder``).
"""
