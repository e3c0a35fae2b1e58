"""Conversations: each candidate's thread, what the sync threads onto it, and what it stops."""
