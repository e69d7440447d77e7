"""Log in (username and password for a bearer token) and log out (revoke that token)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from hub.api.auth import bearer_token, token_hash, verify_password
from hub.api.endpoints import EndpointTable
from hub.api.errors import UnauthorizedError
from hub.api.keys import TOKEN_TTL_S
from hub.api.schemas import LoginRequest, TokenOut
from hub.api.store import writing
from hub.models import ApiToken, User

routes = EndpointTable(tag="auth")

# Verified against when the user does not exist, so both failures take the same time.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$wzIYVnoNpx1kZA/mCER"
    "Ngg$krj6mGnlHR/fCocvHC7JpllD0CSmVsED8knh8YX98xA"
)


@routes.post(
    "/auth/login", body=LoginRequest, response=TokenOut, public=True, errors=frozenset({401})
)
async def login(request: web.Request, body: LoginRequest) -> TokenOut:
    """Exchange a username and password for a bearer token."""
    async with writing(request) as change:
        user = await change.session.scalar(select(User).where(User.username == body.username))
        ok = await verify_password(user.password_hash if user else _DUMMY_HASH, body.password)
        if user is None or not ok:
            raise UnauthorizedError("wrong username or password")
        token = secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + timedelta(seconds=request.app[TOKEN_TTL_S])
        change.session.add(
            ApiToken(user_id=user.id, token_hash=token_hash(token), expires_at=expires_at)
        )
    return TokenOut(token=token, expires_at=expires_at)


@routes.post("/auth/logout")
async def logout(request: web.Request) -> None:
    """Revoke the token this request presents."""
    presented = token_hash(bearer_token(request))  # the endpoint has authenticated it
    async with writing(request) as change:
        row = await change.session.scalar(select(ApiToken).where(ApiToken.token_hash == presented))
        if row is not None and row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
