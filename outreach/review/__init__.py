"""The review queue: draft states, revisions and approvals; the reads the UI and API show.

``queue`` is the only place a draft's status changes; ``approval`` says what an approval
covers (the message as its recipient sees it, under one hash); ``reads`` lists, counts and
measures the queue.
"""
