"""Log in (username and password for a bearer token and the console's session cookie) and log
out (revoke that token and clear the cookie)."""

from __future__ import annotations

import contextlib
import secrets
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from hub import login_throttle
from hub.api.core.audit import client_address
from hub.api.core.auth import ROLES, SESSION_COOKIE, bearer_token, token_hash, verify_password
from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import TooManyRequestsError, UnauthorizedError
from hub.api.core.keys import COOKIE_SECURE, SESSIONS, TOKEN_TTL_S
from hub.api.core.schemas import ErrorOut, LoginRequest, TokenOut
from hub.api.core.store import writing
from hub.models import ApiToken, User

routes = EndpointTable(tag="auth")

# Verified against when the user does not exist, so both failures take the same time.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$wzIYVnoNpx1kZA/mCER"
    "Ngg$krj6mGnlHR/fCocvHC7JpllD0CSmVsED8knh8YX98xA"
)


@routes.post("/auth/login", body=LoginRequest, response=TokenOut, public=True,
             errors={401: ErrorOut, 429: ErrorOut})
async def login(request: web.Request, body: LoginRequest) -> web.Response:
    """Exchange a username and password for a bearer token (also set as the console's
    HttpOnly, SameSite=Strict session cookie). Attempts are counted before the password is
    checked, concurrent ones included: past 5 failures for one username from one address
    within a minute (20 for one username from anywhere, 20 from one address for any
    username), 429 with Retry-After, whatever the password."""
    # behind a trusted reverse proxy, the client it names: else every client would share the
    # proxy's count, and one guesser would lock everybody out
    address = client_address(request)
    sessions = request.app[SESSIONS]
    try:
        attempt = await login_throttle.begin(sessions, body.username, address)
    except login_throttle.Throttled as refused:
        raise TooManyRequestsError(str(refused), refused.retry_after) from refused
    try:
        async with writing(request) as change:
            user = await change.session.scalar(select(User).where(User.username == body.username))
            ok = await verify_password(user.password_hash if user else _DUMMY_HASH, body.password)
            # a disabled user gets the same answer: the password is not what is wrong, but
            # telling so would confirm the account exists
            if user is None or not ok or user.disabled_at is not None:
                raise UnauthorizedError("wrong username or password")
            token = secrets.token_urlsafe(32)
            expires_at = datetime.now(UTC) + timedelta(seconds=request.app[TOKEN_TTL_S])
            change.session.add(
                ApiToken(user_id=user.id, token_hash=token_hash(token), expires_at=expires_at)
            )
            await login_throttle.succeeded(change.session, attempt)
    except UnauthorizedError:
        await login_throttle.failed(sessions, attempt)
        raise
    except BaseException:
        with contextlib.suppress(Exception):  # the error on its way out says more
            await login_throttle.abandoned(sessions, attempt)
        raise
    ttl = request.app[TOKEN_TTL_S]
    resp = web.json_response(
        TokenOut(token=token, expires_at=expires_at).model_dump(mode="json"), status=200
    )
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ttl,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.app[COOKIE_SECURE],
    )
    return resp


@routes.post("/auth/logout", roles=ROLES)
async def logout(request: web.Request) -> web.Response:
    """Revoke the token this request presents (header or cookie) and clear the cookie."""
    presented = token_hash(bearer_token(request))  # the endpoint has authenticated it
    async with writing(request) as change:
        row = await change.session.scalar(select(ApiToken).where(ApiToken.token_hash == presented))
        if row is not None and row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
    resp = web.Response(status=204)
    resp.del_cookie(SESSION_COOKIE, path="/", samesite="Strict", secure=request.app[COOKIE_SECURE])
    return resp
