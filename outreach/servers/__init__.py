"""The recruiter's mail servers: read a mailbox (IMAP or a local Maildir), send over SMTP.

``mailbox`` is the interface the inbox sync and the Sent-folder checks use and ``configured``
opens the mailbox the settings name; ``smtp`` is the transport the sender uses; ``tokens``
hands both the OAuth2 access tokens of an XOAUTH2 sign-in, and ``refusals`` explains a server
that refuses a password sign-in.
"""
