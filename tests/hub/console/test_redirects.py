"""Redirects after the language switch and the sign-in go only to paths on this site."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient

from hub.console.redirects import safe_next

Client = TestClient[Any, Any]

# each of these leads a browser to another host (or hides one from a naive check)
ELSEWHERE = [
    "//example.org", "/\\example.org", "\\\\example.org", "/\\/example.org",
    "/%5Cexample.org", "/%5cexample.org", "/%2F/example.org", "/%2f%2fexample.org",
    "https://example.org/", "javascript:alert(1)", "data:text/html,x", "HTTP://example.org",
    "/\t/example.org", "/\n/example.org", "/\r\n/example.org", "/%09/example.org",
    "/%0d%0aSet-Cookie:x=1", "/\x00/example.org", "example.org", " /manage", "/manage\x7f",
    "/\u2215example.org", "/\uff0fexample.org",
]
HERE = ["/", "/manage", "/manage/cards?x=1&y=%E4%B8%AD", "/guard#alarms", "/me/passes"]


@pytest.mark.parametrize("value", ELSEWHERE)
def test_a_target_off_this_site_falls_back(value: str) -> None:
    assert safe_next(value, "/home") == "/home"


@pytest.mark.parametrize("value", HERE)
def test_a_path_on_this_site_is_kept(value: str) -> None:
    assert safe_next(value, "/home") == value


async def test_the_language_switch_and_the_sign_in_page_stay_on_this_site(
        console: Client, cookies: dict[str, str]) -> None:
    for target in ELSEWHERE:
        resp = await console.get(f"/lang/en?next={quote(target, safe='')}",
                                 allow_redirects=False)
        assert (resp.status, resp.headers["Location"]) == (303, "/"), target
        # the sign-in page carries it to the script that goes there after the login
        resp = await console.get(f"/login?next={quote(target, safe='')}", allow_redirects=False)
        assert resp.status == 200 and 'data-next="/"' in await resp.text(), target
        # a signed-in user is sent on at once
        resp = await console.get(f"/login?next={quote(target, safe='')}",
                                 headers={"Cookie": cookies["guard"]}, allow_redirects=False)
        assert (resp.status, resp.headers["Location"]) == (302, "/guard"), target
    # the report's own example, as a browser sends it
    resp = await console.get("/lang/en?next=/%5Cexample.org", allow_redirects=False)
    assert resp.headers["Location"] == "/"
    resp = await console.get("/lang/zh?next=/manage/cards%3Fx%3D1", allow_redirects=False)
    assert resp.headers["Location"] == "/manage/cards?x=1"
