"""Background work of `outreach serve`: the sender, the inbox sync, the scheduler, their health."""
