"""Sending: the outbox, the ledger, pacing and the sender loop.

Approved drafts are frozen as exact bytes into the outbox (``freezing``); the outbox state
machine and its claim (``outbox``) and the ``ledger`` of progress and outcomes make each go out
exactly once or visibly not; ``waiting`` reads what waits. Messages are paced like a person
(``pacing``), over the recruiter's own server (``lanes``, over ``outreach.servers.smtp``). One
``sender`` per mailbox (``lock``); the Sent folder settles what a crash left uncertain
(``sent_folder``).
"""
