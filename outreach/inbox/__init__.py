"""Incoming mail: sync, parse, classify and trim replies."""
