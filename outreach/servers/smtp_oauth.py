"""SMTP sign-in with an OAuth2 access token: OAUTHBEARER where offered, else XOAUTH2.

A refused token (5xx) is asked for again once, fresh from its source, before giving up: a
token can be revoked or expire between the source's check and the server's.
"""

from __future__ import annotations

import asyncio
import base64

import aiosmtplib

from outreach.servers.tokens import TokenSource


async def oauth_login(smtp: aiosmtplib.SMTP, username: str, tokens: TokenSource) -> None:
    """Log in with a token; after a 5xx refusal, once more with a fresh one, then give up."""
    token = await asyncio.to_thread(tokens.token)
    try:
        await auth_bearer(smtp, username, token)
    except aiosmtplib.SMTPAuthenticationError as exc:
        if exc.code < 500:
            raise
        token = await asyncio.to_thread(tokens.token, token)
        await auth_bearer(smtp, username, token)


async def auth_bearer(smtp: aiosmtplib.SMTP, username: str, token: str) -> None:
    """AUTH OAUTHBEARER (RFC 7628) where offered, else XOAUTH2 as Google and Microsoft expect."""
    if "oauthbearer" in smtp.server_auth_methods:
        user = username.replace("=", "=3D").replace(",", "=2C")
        sasl = f"n,a={user},\x01auth=Bearer {token}\x01\x01".encode()
        mechanism, abort = b"OAUTHBEARER", b"AQ=="  # base64 of \x01 ends a failed exchange
    else:
        sasl = f"user={username}\x01auth=Bearer {token}\x01\x01".encode()
        mechanism, abort = b"XOAUTH2", b""
    response = await smtp.execute_command(b"AUTH", mechanism, base64.b64encode(sasl))
    if response.code == 334:  # an error challenge (JSON): answer it to get the final code
        response = await smtp.execute_command(abort)
    if response.code != 235:
        raise aiosmtplib.SMTPAuthenticationError(response.code, response.message)
