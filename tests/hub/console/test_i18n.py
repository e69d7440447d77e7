"""The message catalogue: complete in both languages, and the language chosen per request."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import get_args

from aiohttp.test_utils import make_mocked_request

from hub.console.i18n import MESSAGES, choose_language, translate
from wire.devices import DeviceType, Severity
from wire.events import AccessReason

STATIC = Path(__file__).resolve().parents[3] / "hub" / "console" / "static"


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_exists_in_both_languages_with_the_same_fields() -> None:
    assert MESSAGES["en"].keys() == MESSAGES["zh"].keys()
    for key, en in MESSAGES["en"].items():
        zh = MESSAGES["zh"][key]
        assert en.strip() and zh.strip(), key
        assert _fields(en) == _fields(zh), key


def test_the_scripts_name_only_known_messages() -> None:
    used: set[str] = set()
    for script in STATIC.glob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z_.]+)"', script.read_text()))
    assert used, "no t(...) calls found: the pattern is stale"
    assert sorted(used - MESSAGES["en"].keys()) == []


def test_every_access_reason_device_type_severity_and_role_has_words() -> None:
    for reason in get_args(AccessReason):
        assert f"reason.{reason}" in MESSAGES["zh"], reason
    for kind in get_args(DeviceType):
        assert f"device.{kind}" in MESSAGES["zh"], kind
    for severity in get_args(Severity):
        assert f"severity.{severity}" in MESSAGES["zh"], severity
    for role in ("admin", "manager", "guard", "technician", "resident"):
        assert f"role.{role}" in MESSAGES["zh"]


def test_every_built_in_alarm_type_and_work_order_state_has_words() -> None:
    rules = (Path(__file__).resolve().parents[3] / "hub" / "rules" / "builtin.yaml").read_text()
    types = set(re.findall(r"^\s*type: ([a-z_]+)\s*$", rules, re.MULTILINE))
    assert "door_forced_open" in types
    assert sorted(t for t in types if f"alarm.{t}" not in MESSAGES["zh"]) == []
    for state in ("open", "assigned", "in_progress", "resolved", "closed"):
        assert f"wo.state.{state}" in MESSAGES["zh"]


def test_unknown_message_is_an_error() -> None:
    try:
        translate("en", "no.such.key")
    except KeyError as exc:
        assert "no.such.key" in str(exc)
    else:
        raise AssertionError("an unknown key must not render")


def test_language_from_cookie_then_accept_language_then_chinese() -> None:
    def lang(headers: dict[str, str]) -> str:
        return choose_language(make_mocked_request("GET", "/", headers=headers))

    assert lang({}) == "zh"
    assert lang({"Accept-Language": "en-GB,en;q=0.9"}) == "en"
    assert lang({"Accept-Language": "fr-FR, en;q=0.5, zh-CN;q=0.8"}) == "zh"
    assert lang({"Accept-Language": "de, en;q=0"}) == "zh"  # q=0: not acceptable
    assert lang({"Accept-Language": "en;q=bogus, zh;q=0.1"}) == "zh"
    assert lang({"Accept-Language": "zh-CN", "Cookie": "lintel_lang=en"}) == "en"
    assert lang({"Accept-Language": "en", "Cookie": "lintel_lang=xx"}) == "en"
