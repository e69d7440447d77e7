"""Bearer tokens, password hashing and roles.

Tokens are random (`secrets.token_urlsafe(32)`), shown once at login and stored only as
their SHA-256, so a leaked database does not leak live tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from hub.api.core.errors import ForbiddenError, UnauthorizedError
from hub.api.core.keys import COMPANY_SITES, CURRENT_USER, SESSIONS
from hub.models import ApiToken, Site, User

# `admin` is the platform's (every company); `company_admin` keeps all the sites of one
# company (docs/tenants.md). A role set that names only "admin" stays platform-only.
ROLES = frozenset({"admin", "company_admin", "manager", "guard", "technician", "resident"})
# Who may read the registry and the access log (each within its scope, see hub.api.core.scope).
STAFF_ROLES = frozenset({"admin", "company_admin", "manager", "guard", "technician"})
# Who may change the registry and permissions: the default of every non-GET endpoint.
WRITER_ROLES = frozenset({"admin", "company_admin", "manager"})
# The control room: remote door commands, alarms, camera alerts and snapshots.
OPERATOR_ROLES = frozenset({"admin", "company_admin", "manager", "guard"})
# Reads a resident may make too, limited to their own household.
HOUSEHOLD_ROLES = STAFF_ROLES | {"resident"}
# The platform's own: companies, dead letters (unattributed payloads).
ADMIN_ROLES = frozenset({"admin"})
# Who keeps sites and companies' staff: the platform admin and, in their company, its admin.
COMPANY_ROLES = frozenset({"admin", "company_admin"})
# The web console's session cookie: the same token as the bearer one, HttpOnly.
SESSION_COOKIE = "lintel_session"

_default_hasher = PasswordHasher()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow (~0.1 s): keep it off the event loop
    return await asyncio.get_running_loop().run_in_executor(None, _default_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    """Check with the parameters recorded in the hash itself."""

    def verify() -> bool:
        try:
            return _default_hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.get_running_loop().run_in_executor(None, verify)


async def create_user(
    session: AsyncSession,
    username: str,
    password: str,
    role: str,
    site_id: str | None = None,
    household_id: int | None = None,
    company_id: str | None = None,
) -> User:
    """Add a user with an argon2 password hash; the caller commits (bootstrap and seeds)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {sorted(ROLES)}")
    user = User(
        username=username,
        password_hash=await hash_password(password),
        role=role,
        site_id=site_id,
        household_id=household_id,
        company_id=company_id,
    )
    session.add(user)
    await session.flush()
    return user


def bearer_token(request: web.Request) -> str:
    """The request's token: `Authorization: Bearer`, or else the console's session cookie."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    cookie = request.cookies.get(SESSION_COOKIE, "").strip()
    if not header and cookie:
        return cookie
    raise UnauthorizedError(
        "a bearer token is required (Authorization: Bearer <token>, or the session cookie)"
    )


async def authenticate(request: web.Request) -> User:
    """The user behind the request's bearer token; 401 if it is missing, unknown, expired or
    revoked (one message for all, so a caller learns nothing about other people's tokens)."""
    token = bearer_token(request)
    now = datetime.now(UTC)
    async with request.app[SESSIONS]() as session:
        # reads only: no transaction around them (two round trips fewer on every request)
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        row = await session.scalar(
            select(ApiToken)
            .options(joinedload(ApiToken.user))
            .where(ApiToken.token_hash == token_hash(token))
        )
        if (
            row is None
            or row.revoked_at is not None
            or row.expires_at <= now
            or row.user.disabled_at is not None
        ):
            raise UnauthorizedError("the token is invalid, expired or revoked")
        user = row.user
        sites = None
        if user.role == "company_admin":  # the scope is the company's sites, as of now
            sites = frozenset(await session.scalars(
                select(Site.id).where(Site.company_id == user.company_id)))
        session.expunge(user)
    request[CURRENT_USER] = user
    request[COMPANY_SITES] = sites
    return user


def require_role(user: User, *roles: str) -> None:
    """Refuse (403) a user whose role is not among `roles`; scopes are in hub.api.core.scope."""
    if user.role not in roles:
        raise ForbiddenError(f"role {user.role!r} may not do this; needs one of {sorted(roles)}")
