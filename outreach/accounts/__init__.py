"""Mail accounts: provider presets, encrypted secrets, OAuth2 sign-in and the token helper.

The face the sender and the sync use (see ``transport``): ``imap_mailbox(store, settings,
account)`` and ``smtp_settings(store, settings, account)`` open an account's servers with the
right sign-in, and ``tokens_for`` hands out access tokens, refreshed when needed.
"""
