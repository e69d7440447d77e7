"""Loading rules: the built-in set, site overrides, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.rules.loader import RulesError, load_rules
from hub.rules.view import EventView
from tests.hub.rules.support import at, door, telemetry


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_rules_load() -> None:
    book = load_rules()
    names = {r.name for r in book.default}
    assert {"door-forced-open", "door-held-open", "denied-burst", "fire-alarm",
            "pressure-low-sustained", "device-fault", "device-fault-cleared", "device-offline",
            "edge-offline", "elevator-out-of-service", "camera-motion", "camera-tamper",
            "disk-low"} <= names
    held = book.find("any", "door-held-open")
    assert held is not None and held.persist is not None and held.persist.for_s == 60


def test_override_changes_disables_and_adds(tmp_path: Path) -> None:
    write(tmp_path / "10-all.yaml", """
rules:
  - name: door-held-open
    persist: {for_s: 120}
  - name: camera-motion
    enabled: false
  - name: lobby-door-denied
    match: {kind: access, where: {data.door: B1-main, data.reason: {in: [revoked, lost]}}}
    actions:
      - raise_alarm: {type: lost_card_used, severity: major, message: "Lost card {data.credential}"}
""")
    write(tmp_path / "20-sunrise.yaml", """
site: sunrise
rules:
  - name: denied-burst
    count: {n: 3}
""")
    book = load_rules(tmp_path)
    held = book.find("demo", "door-held-open")
    assert held is not None and held.persist is not None
    assert held.persist.for_s == 120 and held.persist.until  # the rest kept
    motion = book.find("demo", "camera-motion")
    assert motion is not None and not motion.enabled
    assert book.find("demo", "lobby-door-denied") is not None
    burst = book.find("sunrise", "denied-burst")
    assert burst is not None and burst.count is not None and burst.count.n == 3
    assert burst.count.within_s == 60
    other = book.find("demo", "denied-burst")
    assert other is not None and other.count is not None and other.count.n == 5
    # the site's book has the global changes too
    sunrise_held = book.find("sunrise", "door-held-open")
    assert sunrise_held is not None and sunrise_held.persist is not None
    assert sunrise_held.persist.for_s == 120


def test_the_rules_watching_a_kind_are_the_enabled_ones_of_the_site(tmp_path: Path) -> None:
    write(tmp_path / "10-all.yaml", """
rules:
  - name: camera-motion
    enabled: false
""")
    write(tmp_path / "20-sunrise.yaml", """
site: sunrise
rules:
  - name: denied-burst
    enabled: false
  - name: camera-motion
    enabled: true
""")
    book = load_rules(tmp_path)
    for site in ("demo", "sunrise"):
        for kind in ("access", "door", "camera", "agent", "edge", "telemetry", "lift"):
            expected = [r.name for r in book.for_site(site)
                        if r.enabled and r.match.kind == kind]
            assert [r.name for r in book.watching(site, kind)] == expected, (site, kind)
    assert "denied-burst" in {r.name for r in book.watching("demo", "access")}
    assert "denied-burst" not in {r.name for r in book.watching("sunrise", "access")}
    assert [r.name for r in book.watching("sunrise", "camera")] == ["camera-motion"]
    assert book.watching("demo", "camera") == ()


RULE_X = "rules:\n  - name: x\n    match: {kind: door}\n"
ALARM = "{raise_alarm: {type: t, severity: major, message: m}}"


@pytest.mark.parametrize(("text", "rule", "fragments"), [
    ("rules:\n  - name: door-held-open\n    persist: {for_s: -5}\n", "door-held-open",
     ["persist.for_s", "greater than 0"]),
    (("rules:\n  - name: x\n    match: {kind: door, where: {data.colour: red}}\n"
      f"    actions: [{ALARM}]\n"), "x", ["match.where.data.colour", "no data field 'colour'"]),
    (RULE_X + "    actions: [{raise_alarm: {type: t, severity: awful, message: m}}]\n", "x",
     ["actions.0.raise_alarm.severity"]),
    (RULE_X + "    actions: [{raise_alarm: {type: t, severity: major, message: 'door {data.dor}'}}]\n",
     "x", ["actions.0.raise_alarm.message", "{data.dor}"]),
    (RULE_X + "    actions: [{raise_alarm: {type: t, severity: major, message: m}, clear_alarm: {key: k}}]\n",
     "x", ["actions.0", "exactly one"]),
    (RULE_X + "    colour: red\n    actions: [{clear_alarm: {key: k}}]\n", "x",
     ["colour", "unknown key"]),
    ("rules:\n  - name: x\n    match: {kind: lift}\n    actions: [{clear_alarm: {key: k}}]\n",
     "x", ["match.kind"]),
    (RULE_X + "    count: {n: 3, within_s: 10}\n    persist: {for_s: 5, until: {data.event: closed}}\n"
     + "    actions: [{clear_alarm: {key: k}}]\n", "x", ["count and persist"]),
    (RULE_X + "    actions: [{send_command: {command: unlock, reason: r}}]\n", "x",
     ["send_command", "needs a door"]),
    (RULE_X + f"    actions: [{ALARM}]\n    on_reset: [{{clear_alarm: {{key: k}}}}]\n", "x",
     ["on_reset needs persist or absence"]),
])
def test_bad_rules_name_file_rule_and_field(tmp_path: Path, text: str, rule: str,
                                            fragments: list[str]) -> None:
    path = write(tmp_path / "site.yaml", text)
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert str(path) in message and f"rule {rule!r}" in message, message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(("text", "fragment"), [
    ("rules: [\n", "not valid YAML"),
    ("- a\n- b\n", "expected a mapping"),
    ("rules:\n  - match: {kind: door}\n", "has no name"),
    ("rule:\n  - name: x\n", "rule: unknown key"),
])
def test_bad_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(RulesError, match=fragment) as caught:
        load_rules(path)
    assert str(path) in str(caught.value)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no such file"):
        load_rules(tmp_path / "nope.yaml")


def test_conditions_on_views() -> None:
    from hub.rules.engine import holds
    from hub.rules.schema import Condition

    low = EventView.of_row(telemetry({"pressure": 0.05, "ok": True}, at(0)))
    assert holds({"readings.pressure": Condition.model_validate({"lt": 0.1, "ge": 0})}, low)
    assert not holds({"readings.pressure": Condition.model_validate({"gt": 0.1})}, low)
    assert not holds({"readings.flow": Condition.model_validate({"lt": 1})}, low)  # missing
    assert holds({"readings.flow": Condition.model_validate({"exists": False})}, low)
    assert not holds({"readings.ok": Condition.model_validate(1)}, low)  # true is not 1
    assert holds({"readings.ok": Condition.model_validate(True)}, low)
    opened = EventView.of_row(door("opened", at(0)))
    assert holds({"data.event": Condition.model_validate({"in": ["opened", "held_open"]})},
                 opened)
    assert holds({"data.event": Condition.model_validate({"not_in": ["closed"]})}, opened)
    assert not holds({"data.door": Condition.model_validate({"lt": 3})}, opened)  # not a number


async def test_the_hub_refuses_to_start_with_a_bad_rules_file(tmp_path: Path) -> None:
    from hub.service import Hub
    from hub.settings import HubSettings

    bad = write(tmp_path / "rules.yaml", "rules:\n  - name: door-held-open\n"
                                         "    persist: {for_s: 0}\n")
    settings = HubSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/hub.db",
                           data_dir=tmp_path / "data", rules_path=bad, http_port=0)
    with pytest.raises(RulesError, match=r"rule 'door-held-open': persist\.for_s"):
        async with Hub(settings):
            pass
    assert not (tmp_path / "hub.db").exists()  # stopped before touching the database
