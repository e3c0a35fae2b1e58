"""Mailbox access: an IMAP server or a local Maildir behind one small interface.

``base`` is the interface the inbox sync and the Sent-folder checks use; ``configured`` opens
the mailbox the settings name.
"""
