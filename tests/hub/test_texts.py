"""The hub's texts (hub/texts): every code in both languages with the same parameters,
rendered in the reader's language, old rows and unknown codes still readable."""

from __future__ import annotations

import re

import pytest

from hub.console.i18n import _CATALOGUE
from hub.rules.loader import load_rules
from hub.texts import (
    TEXTS,
    actor_text,
    fields_of,
    localize,
    marker,
    pair,
    parse_accept_language,
    render,
    render_or,
    word,
)
from hub.texts.render import TextError

_HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("code", sorted(TEXTS))
def test_every_code_has_both_languages_with_the_same_parameters(code: str) -> None:
    en, zh = TEXTS[code]
    assert en.strip() and zh.strip(), code
    assert fields_of(en) == fields_of(zh), code
    assert not _HAN.search(en), f"{code}: Chinese in the English text"
    words = [w for w in re.findall(r"[A-Za-z]{3,}", re.sub(r"\{[^}]*\}", "", zh))
             if w not in ("OSDP", "MPa", "YYYY", "UTF", "PIN", "CSV", "JSON", "JPEG", "PNG")]
    assert not words, f"{code}: English words {words} in the Chinese text"


def test_codes_do_not_collide_with_the_console_words() -> None:
    assert not set(TEXTS) & set(_CATALOGUE)


def test_the_same_alarm_reads_in_either_language() -> None:
    assert render("alarm_type.fire_alarm", None, "zh") == "火灾报警"
    assert render("alarm_type.fire_alarm", None, "en") == "Fire alarm"
    params = {"device": "B1-lift-1", "code": "Err41", "fault": pair("Safety circuit open", "安全回路断开")}
    assert render("wo_title.device_fault", params, "zh") == "B1-lift-1：Err41 安全回路断开"
    assert render("wo_title.device_fault", params, "en") == "B1-lift-1: Err41 Safety circuit open"
    # a fault text one language lacks reads in the other; a missing parameter reads "-"
    assert render("wo_title.device_fault", {"device": "d", "code": "E1",
                                            "fault": {"en": "Overheat"}}, "zh") == "d：E1 Overheat"
    assert render("alarm_msg.fire_alarm", {}, "en") == "Fire alarm at -"
    reason = word("access_reason.unknown_card", "unknown_card")
    assert "未登记的卡" in render("alarm_msg.repeated_denials",
                             {"count": 5, "door": "B1-main", "reason": reason}, "zh")
    unknown = word("access_reason.new_reason", "new_reason")
    assert "(last: new_reason)" in render("alarm_msg.repeated_denials",
                                          {"count": 5.0, "door": "d", "reason": unknown}, "en")


def test_unknown_codes_and_plain_rows() -> None:
    with pytest.raises(TextError):
        render("no.such.code", None, "en")
    assert render_or(None, None, "zh", "a row from before codes") == "a row from before codes"
    assert render_or("gone.code", {}, "zh", "kept text") == "kept text"
    data = {"alarm": {"message": marker("alarm_type.fire_alarm", None, "FIRE"), "n": [1]},
            "plain": marker(None, None, "as written")}
    assert localize(data, "zh") == {"alarm": {"message": "火灾报警", "n": [1]},
                                    "plain": "as written"}


def test_actors_read_as_words() -> None:
    assert actor_text("system:rule:device-fault", "zh") == "系统（规则：设备故障）"
    assert actor_text("system:rule:device-fault", "en") == "System (rule: device fault)"
    assert actor_text("rule:door-held-open", "zh") == "规则：门长时间未关"
    assert actor_text("system:assignment", "zh") == "系统（自动派单）"
    assert actor_text("system:rule:my-site-rule", "zh") == "系统（规则：my-site-rule）"
    assert actor_text("guard1", "zh") == "guard1"


@pytest.mark.parametrize(("header", "lang"), [
    ("zh-CN", "zh"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-GB", "en"), ("en", "en"),
    ("fr-FR, en;q=0.5, zh;q=0.7", "zh"), ("fr", None), ("", None), ("zh;q=0", None),
    ("en;q=abc, zh", "zh"),
])
def test_accept_language(header: str, lang: str | None) -> None:
    assert parse_accept_language(header) == lang


def test_every_builtin_rule_text_renders_in_both_languages() -> None:
    coded = 0
    for rule in load_rules().default:
        assert f"rule.{rule.name}" in TEXTS, f"no words for the rule {rule.name}"
        for action in [*rule.actions, *rule.on_reset]:
            body = action.body
            text = getattr(body, "text", None)
            if text is None:
                continue
            coded += 1
            codes = ([f"{text}.title", f"{text}.body"] if action.post_notice else [text])
            for code in codes:
                assert fields_of(TEXTS[code][0]) <= set(body.params), (rule.name, code)
    assert coded >= 20


def test_every_access_refusal_reason_has_words() -> None:
    from typing import get_args

    from wire.events import AccessReason

    missing = [r for r in get_args(AccessReason) if f"access_reason.{r}" not in TEXTS]
    assert not missing, f"add access_reason.<x> to hub/texts/catalogue.py for {missing}"


def test_refused_values_read_for_people_naming_the_field() -> None:
    from pydantic import BaseModel, Field, ValidationError

    from hub.api.core.schemas import Phone, ResidentType
    from hub.texts.validation import problem_message, reason_text

    class Row(BaseModel):
        type: ResidentType
        visitor_phone: Phone
        floor: int = Field(ge=-10)
        name: str = Field(max_length=3)

    try:
        Row.model_validate({"type": "landlord", "visitor_phone": "call me", "floor": "x",
                            "name": "four"})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    messages = {str(e["loc"][0]): problem_message(str(e["loc"][0]), *reason_text(e), "zh")
                for e in errors}
    assert messages == {
        "type": "类型：必须是以下之一：owner（业主）、tenant（租户）、family_member（家属）",
        "visitor_phone": "访客电话：格式不正确",
        "floor": "楼层：必须是整数",
        "name": "名称：最多 3 个字符",
    }
    assert problem_message("type", *reason_text(errors[0]), "en") == (
        "type: must be one of owner, tenant, family_member")


def test_actor_markers_read_as_words() -> None:
    from hub.texts import actor_marker

    data = {"cleared_by_text": actor_marker("rule:device-fault-cleared"),
            "acknowledged_by_text": actor_marker("guard1"), "none": actor_marker(None)}
    assert localize(data, "zh") == {"cleared_by_text": "规则：故障清除",
                                    "acknowledged_by_text": "guard1", "none": None}


def test_a_refused_step_of_a_work_order_reads_in_chinese() -> None:
    from hub.workorders import IllegalTransition, WorkOrder

    code, params = IllegalTransition(WorkOrder(id=3, state="assigned"), "resolve").text
    assert render(code, params, "zh") == "工单 3 当前为“已派单”，现在不能完成。"


def test_every_thing_the_api_may_not_find_has_words() -> None:
    from pathlib import Path

    import hub

    names = set()
    for path in Path(hub.__file__).parent.rglob("*.py"):
        text = path.read_text("utf-8")
        # the thing is named where the error is raised, or given to the helper that raises it
        names |= set(re.findall(r'(?:NotF(?:oundError|ound)\(|(?:visible|scoped_get|scoped_delete'
                                r'|path_id)\([^"\n]*?)"([a-z ]+)"', text))
        names |= set(re.findall(r'InvalidError\.unknown\(\s*[^,]+,\s*"([a-z ]+)"', text))
    missing = sorted(n for n in names if f"thing.{n.replace(' ', '_')}" not in TEXTS)
    assert not missing, f"add thing.<x> to hub/texts/catalogue.py for {missing}"
