"""Who may open which console page, what the others get, sign-out and the language."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient

from hub.console.pages import CONSOLE, HOME
from tests.hub.console.conftest import ROLES

Client = TestClient[Any, Any]
NAV_LINK = re.compile(r'<nav class="tabs[^"]*"[^>]*>(.*?)</nav>', re.DOTALL)


async def get(console: Client, path: str, cookie: str | None = None, lang: str = "zh"
              ) -> tuple[int, str, Any]:
    headers = {"Accept-Language": lang}
    if cookie:
        headers["Cookie"] = cookie
    resp = await console.get(path, headers=headers, allow_redirects=False)
    return resp.status, await resp.text(), resp.headers


@pytest.mark.parametrize("role", ROLES)
async def test_each_page_is_rendered_only_for_its_roles(console: Client, cookies: dict[str, str],
                                                        role: str) -> None:
    for path in ("/", "/login"):  # a signed-in user goes to their role's home page
        status, _, headers = await get(console, path, cookies[role])
        assert (status, headers["Location"]) == (302, HOME[role])
    for page in CONSOLE.pages:
        status, body, _ = await get(console, page.path, cookies[role])
        if role in page.roles:
            assert status == 200, (role, page.path, body[-2000:])
            assert f'data-page="{page.path}"' in body
        else:
            # the not-allowed page, and nothing of the page itself
            assert status == 403, (role, page.path)
            assert 'data-testid="forbidden"' in body
            assert f'data-page="{page.path}"' not in body
            assert not any(f"/console/static/{s}" in body for s in page.scripts)
        nav = NAV_LINK.search(body)
        links = re.findall(r'href="([^"]+)"', nav.group(1)) if nav else []
        assert links == [p.path for p in CONSOLE.nav_for(role)]
        assert all(role in p.roles for p in CONSOLE.pages if p.path in links)


async def test_without_a_session_pages_go_to_login_and_back(console: Client) -> None:
    status, _, headers = await get(console, "/manage/cards?x=1")
    location = urlsplit(headers["Location"])
    assert (status, location.path) == (302, "/login")
    assert parse_qs(location.query) == {"next": ["/manage/cards?x=1"]}
    status, body, _ = await get(console, "/login?next=/manage/cards")
    assert status == 200 and 'data-next="/manage/cards"' in body
    status, _, headers = await get(console, "/")
    assert status == 302 and headers["Location"] == "/login"


async def test_every_page_renders_in_both_languages(console: Client,
                                                    cookies: dict[str, str]) -> None:
    for page in CONSOLE.pages:
        role = "admin" if "admin" in page.roles else sorted(page.roles)[0]
        for lang, html_lang, logout in (("zh-CN,zh;q=0.9", "zh-CN", "退出登录"),
                                        ("en-US,en;q=0.8", "en", "Log out")):
            status, body, headers = await get(console, page.path, cookies[role], lang)
            assert status == 200, (page.path, lang, body[-2000:])
            assert f'<html lang="{html_lang}">' in body and logout in body
            assert headers["Content-Language"] == html_lang[:2]


async def test_language_cookie_wins_and_next_stays_on_this_site(console: Client,
                                                                cookies: dict[str, str]) -> None:
    for target, expected in (("/manage", "/manage"), ("https://evil.example/x", "/"),
                             ("//evil.example", "/"), ("", "/")):
        resp = await console.get(f"/lang/en?next={target}", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == expected
        assert resp.cookies["lintel_lang"].value == "en"
    status, body, _ = await get(console, "/manage", f"{cookies['manager']}; lintel_lang=en",
                                lang="zh-CN")
    assert status == 200 and "<h1>Overview</h1>" in body
    console.session.cookie_jar.clear()  # the switch above left English in the jar
    status, body, _ = await get(console, "/lang/fr")  # in the reader's language
    assert status == 404 and body == "该地址不存在。"
    status, body, _ = await get(console, "/lang/fr", lang="en")
    assert status == 404 and body == "There is nothing at this address."


async def test_an_unknown_shared_pass_link_says_so(console: Client) -> None:
    status, body, _ = await get(console, "/visit/" + "x" * 24, lang="en")
    assert status == 404 and "no longer valid" in body


async def test_logout_revokes_the_session(console: Client, cookies: dict[str, str]) -> None:
    cookie = cookies["guard"]
    resp = await console.post("/logout", headers={"Cookie": cookie}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login?bye=1"
    assert resp.cookies["lintel_session"].value == ""
    me = await console.get("/api/v1/auth/me", headers={"Cookie": cookie})
    assert me.status == 401
    status, _, headers = await get(console, "/guard", cookie)
    assert status == 302 and headers["Location"].startswith("/login")


async def test_overview_counts_only_the_managers_site(console: Client,
                                                      cookies: dict[str, str]) -> None:
    status, body, _ = await get(console, "/manage", cookies["manager"], "en")
    assert status == 200
    tiles = {label: value for value, label in re.findall(
        r'<div class="value">([^<]*)</div><div class="label">([^<]*)</div>', body)}
    # the seed: sunrise has one edge (online), moonbay another; the console adds one resident
    assert tiles["Edges online"] == "1 / 1"
    assert tiles["Residents"] == "1"
    assert tiles["Units"] == "1"


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_guard_console_comes_with_its_data(console: Client, cookies: dict[str, str],
                                                     lang: str) -> None:
    """The panel's lists are in the page (once, in <main>, in the page's language), so the
    console shows them with no request after the document."""
    _, body, _ = await get(console, "/guard", f"{cookies['guard']}; lintel_lang={lang}")
    title = re.search(r"<title>(.*?)</title>", body, re.DOTALL)
    assert title is not None and "{" not in title.group(1)
    found = re.findall(r'<script id="guard-panel" type="application/json">(.*?)</script>',
                       body, re.DOTALL)
    assert len(found) == 1
    panel = json.loads(found[0])
    assert set(panel) == {"alarms", "access_events", "buildings", "edges", "door_states",
                          "devices", "commands", "camera_alerts"}
    assert panel["buildings"]["items"] and panel["door_states"]["items"]
    assert body.index('id="guard-panel"') > body.index("<main>")


async def test_the_overview_tiles_refuse_in_the_readers_language(
        console: Client, cookies: dict[str, str]) -> None:
    status, body, _ = await get(console, "/manage/tiles")
    assert (status, body) == (401, "请重新登录。")
    status, body, _ = await get(console, "/manage/tiles", cookies["guard"], lang="en")
    assert (status, body) == (403, "Your role may not do this.")
    status, body, _ = await get(console, "/manage/tiles", cookies["manager"])
    assert status == 200 and "residents" in json.loads(body)
