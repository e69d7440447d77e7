"""The audit log page (issue 19): a company admin reads their company's changes only, in
Chinese and English, a page at a time, filtered, and exports the same as CSV."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_user
from hub.models import Company, Site
from tests.hub.api.conftest import PASSWORD
from tests.hub.console.test_pages import get

Client = TestClient[Any, Any]


async def _login(console: Client, username: str) -> str:
    resp = await console.post("/api/v1/auth/login",
                              json={"username": username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    console.session.cookie_jar.clear()
    return f"lintel_session={(await resp.json())['token']}"


async def test_a_company_admin_reads_their_companys_changes_only(
        console: Client, sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        session.add_all([Company(id="acme", name="Acme"), Company(id="rival", name="Rival")])
        await session.flush()
        await session.execute(update(Site).where(Site.id == "sunrise").values(company_id="acme"))
        await session.execute(update(Site).where(Site.id == "moonbay").values(company_id="rival"))
        await create_user(session, "acme-admin", PASSWORD, "company_admin", company_id="acme")
    admin = {"Cookie": await _login(console, "c-admin")}
    for n in range(55):  # more than a page of acme's changes
        resp = await console.patch("/api/v1/sites/sunrise", json={"name": f"Sunrise {n}"},
                                   headers=admin)
        assert resp.status == 200, await resp.text()
    resp = await console.patch("/api/v1/sites/moonbay", json={"name": "Moon Bay Secret"},
                               headers=admin)
    assert resp.status == 200
    cookie = await _login(console, "acme-admin")

    status, zh, _ = await get(console, "/manage/audit", cookie, "zh-CN")
    assert status == 200 and "操作审计" in zh and "修改" in zh
    assert "Sunrise 54" in zh and "Moon Bay Secret" not in zh and "moonbay" not in zh
    assert zh.count("<tr data-id=") == 50 and 'data-testid="audit-older"' in zh
    status, en, _ = await get(console, "/manage/audit?q=Sunrise+3", cookie, "en-US")
    assert status == 200 and "Audit log" in en and "changed" in en
    assert "Sunrise 3" in en and "Sunrise 54" not in en
    older = en.split('data-testid="audit-export"')[0]
    export = older.rsplit('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert export.startswith("/api/v1/audit?") and "format=csv" in export
    resp = await console.get(export, headers={"Cookie": cookie})
    text = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "Sunrise 3" in text and "Moon Bay Secret" not in text
    # a filter the page cannot read says so in the reader's language, and shows nothing
    status, bad, _ = await get(console, "/manage/audit?since=tomorrow", cookie, "zh-CN")
    assert status == 200 and "筛选条件有误" in bad and "<tr data-id=" not in bad
