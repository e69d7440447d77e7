"""Users: staff accounts (role and site), company admins (their company) and resident
accounts (their household).

The platform admin manages everyone. A company admin manages the managers, guards,
technicians, resident users and other company admins of their own company, never a platform
admin nor anyone of another company. A manager manages the guards, technicians and resident
users of their own site, and may neither create nor change an admin or a manager.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import ColumnElement, false, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.auth import ROLES, WRITER_ROLES, hash_password
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from hub.api.core.keys import CURRENT_USER
from hub.api.core.scope import Scope, scope_of
from hub.api.core.store import reading, require_site, writing
from hub.api.registry.schemas import UserCreate, UserList, UserOut, UserQuery, UserUpdate
from hub.models import ApiToken, Company, Household, Resident, ResidentAccount, User
from hub.texts.validation import field_word

routes = EndpointTable(tag="users")
_ITEM = r"/users/{id:\d+}"
# roles a manager may hand out and manage
_MANAGED_BY_MANAGER = frozenset({"guard", "technician", "resident"})
# and a company admin, within their company
_MANAGED_BY_COMPANY = _MANAGED_BY_MANAGER | {"manager", "company_admin"}


def user_out(user: User, resident_id: int | None = None) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        role=user.role,  # type: ignore[arg-type]  # the column holds one of ROLES
        site_id=user.site_id,
        household_id=user.household_id,
        company_id=user.company_id,
        resident_id=resident_id,
        disabled=user.disabled_at is not None,
        created_at=user.created_at,
    )


def _may_manage(scope: Scope, role: str) -> None:
    if scope.all_sites:
        return
    if scope.is_company_admin:
        if role not in _MANAGED_BY_COMPANY:
            raise ForbiddenError(f"a company admin may not manage {role} users: only the "
                                 "platform admin makes or changes platform admins")
        return
    if role not in _MANAGED_BY_MANAGER:
        raise ForbiddenError(f"a {scope.role} may not manage {role} users")


async def _company(session: AsyncSession, scope: Scope, company_id: str | None) -> str:
    """A new or changed company admin's company: named by the platform admin, a company
    admin's own otherwise (403 for another)."""
    if scope.is_company_admin:
        if company_id is not None and company_id != scope.company_id:
            raise ForbiddenError(f"company {company_id!r} is not yours ({scope.company_id!r})")
        return str(scope.company_id)
    if company_id is None:
        raise InvalidError.one("company_id", "a company admin keeps one company; name it",
                               "invalid.company_needed")
    if await session.get(Company, company_id) is None:
        raise InvalidError.unknown("company_id", "company", company_id)
    return company_id


async def _placement(
    session: AsyncSession, scope: Scope, role: str, site_id: str | None,
    household_id: int | None, company_id: str | None = None,
) -> tuple[str | None, int | None, str | None]:
    """Check a role's scope: admin has none, a company admin a company, staff a site, a
    resident user a household (whose site becomes theirs). Returns (site_id, household_id,
    company_id)."""
    if role in ("admin", "company_admin"):
        if site_id is not None or household_id is not None:
            field = "site_id" if site_id is not None else "household_id"
            raise InvalidError.one(field, "an admin is not scoped to a site; leave it out",
                                   "invalid.admin_unscoped")
        if role == "admin":
            if company_id is not None:
                raise InvalidError.one("company_id", "the platform admin keeps every company; "
                                       "leave it out", "invalid.admin_unscoped")
            return None, None, None
        return None, None, await _company(session, scope, company_id)
    if company_id is not None:
        raise InvalidError.one("company_id", f"only company admins have one, not a {role}",
                               "invalid.company_admins_only")
    if role == "resident":
        if household_id is None:
            raise InvalidError.one("household_id", "a resident user needs their household",
                                   "invalid.household_needed")
        household = await session.get(Household, household_id)
        if household is None or not scope.sees(household.site_id):
            raise InvalidError.unknown("household_id", "household", household_id)
        if site_id is not None and site_id != household.site_id:
            raise InvalidError.one(
                "site_id", f"household {household_id} is in site {household.site_id!r}",
                "invalid.other_site")
        return household.site_id, household.id, None
    if household_id is not None:
        raise InvalidError.one("household_id", f"only resident users have one, not a {role}",
                               "invalid.household_residents_only")
    if site_id is None:
        raise InvalidError.one("site_id", f"a {role} works for one site; name it",
                               "invalid.site_needed")
    scope.claim_site(site_id)
    await require_site(session, site_id)
    return site_id, None, None


def _users_seen(scope: Scope) -> ColumnElement[bool]:
    """The users a scope shows: a site's (staff, residents), and a company admin's fellow
    company admins; never a platform admin to anyone but a platform admin."""
    if scope.all_sites:
        return true()
    company = (User.company_id == scope.company_id) if scope.is_company_admin else false()
    return or_(scope.where(User.site_id), company)


async def _visible(session: AsyncSession, scope: Scope, user_id: int) -> User:
    user = await session.scalar(select(User).where(User.id == user_id, _users_seen(scope)))
    if user is None:
        raise NotFoundError("user", user_id)
    return user


@routes.get("/users", query=UserQuery, response=UserList, roles=WRITER_ROLES)
async def list_users(request: web.Request, query: UserQuery) -> UserList:
    """List users: the platform admin all, a company admin their company's, a manager those of
    their site."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = select(User).where(_users_seen(scope)).order_by(User.id)
    if query.site_id is not None:
        stmt = stmt.where(User.site_id == query.site_id)
    if query.role is not None:
        stmt = stmt.where(User.role == query.role)
    async with reading(request) as session:
        return UserList(items=[user_out(u) for u in await session.scalars(stmt)])


@routes.post("/users", body=UserCreate, response=UserOut, status=201, roles=WRITER_ROLES)
async def create_user_view(request: web.Request, body: UserCreate) -> UserOut:
    """Add a user with a role and its scope (site, or household for a resident user)."""
    scope = scope_of(request)
    _may_manage(scope, body.role)
    async with writing(request) as change:
        session = change.session
        household = body.household_id
        resident: Resident | None = None
        if body.resident_id is not None:
            if body.role != "resident":
                raise InvalidError.one(
                    "resident_id", f"only resident users act as a resident, not a {body.role}",
                    "invalid.household_residents_only")
            resident = await session.get(Resident, body.resident_id)
            if resident is None or not scope.sees(resident.site_id):
                raise InvalidError.unknown("resident_id", "resident", body.resident_id)
            if household is None:
                household = resident.household_id
            elif resident.household_id != household:
                raise InvalidError.one(
                    "resident_id", f"resident {resident.id} is not of household {household}",
                    "invalid.resident_other_household")
        site_id, household_id, company_id = await _placement(
            session, scope, body.role, body.site_id, household, body.company_id
        )
        if await session.scalar(select(User.id).where(User.username == body.username)):
            raise ConflictError(f"username {body.username!r} is taken", (
                "error.exists", {"what": field_word("username"), "key": body.username}))
        user = User(
            username=body.username,
            password_hash=await hash_password(body.password),
            role=body.role,
            site_id=site_id,
            household_id=household_id,
            company_id=company_id,
        )
        session.add(user)
        await session.flush()
        if resident is not None:
            session.add(ResidentAccount(user_id=user.id, resident_id=resident.id))
            await session.flush()
        await session.refresh(user)
        return user_out(user, resident.id if resident is not None else None)


@routes.get("/auth/me", response=UserOut, roles=ROLES)
async def whoami(request: web.Request) -> UserOut:
    """The signed-in user, with role and scope."""
    async with reading(request) as session:
        user = await session.get(User, request[CURRENT_USER].id)
        if user is None:  # deleted since the token was checked
            raise NotFoundError("user", request[CURRENT_USER].id)
        return user_out(user)


@routes.get(_ITEM, response=UserOut, roles=WRITER_ROLES)
async def get_user(request: web.Request) -> UserOut:
    """One user."""
    async with reading(request) as session:
        return user_out(await _visible(session, scope_of(request), path_id(request, "user")))


@routes.patch(_ITEM, body=UserUpdate, response=UserOut, roles=WRITER_ROLES)
async def update_user(request: web.Request, body: UserUpdate) -> UserOut:
    """Change a user's role, scope or password, or disable them (which also ends their
    sessions); a new password ends their sessions too."""
    scope = scope_of(request)
    given = body.model_fields_set
    async with writing(request) as change:
        session = change.session
        user = await _visible(session, scope, path_id(request, "user"))
        _may_manage(scope, user.role)
        own_access = given & {"role", "site_id", "household_id", "company_id", "disabled"}
        if user.id == scope.user_id and own_access:
            raise InvalidError.one(min(own_access), "you may not change your own role or scope",
                                   "invalid.own_role")
        role = body.role if body.role is not None else user.role
        _may_manage(scope, role)
        if given & {"role", "site_id", "household_id", "company_id"}:
            site_id = body.site_id if "site_id" in given else user.site_id
            household_id = body.household_id if "household_id" in given else user.household_id
            company_id = body.company_id if "company_id" in given else user.company_id
            if role != "resident" and "household_id" not in given:
                household_id = None
            if role in ("admin", "company_admin") and "site_id" not in given:
                site_id = None
            if role != "company_admin" and "company_id" not in given:
                company_id = None
            user.site_id, user.household_id, user.company_id = await _placement(
                session, scope, role, site_id, household_id, company_id
            )
            user.role = role
        end_sessions = False
        if body.password is not None:
            user.password_hash = await hash_password(body.password)
            end_sessions = True
        if body.disabled is not None:
            user.disabled_at = datetime.now(UTC) if body.disabled else None
            end_sessions = end_sessions or body.disabled
        if end_sessions:
            await session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        await session.flush()
        return user_out(user)
