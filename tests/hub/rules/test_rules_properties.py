"""Hostile rules files (hypothesis): whatever a site's file holds, loading it either gives a
rule book or fails with a RulesError naming the file -- never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.rules.loader import BUILTIN, RuleBook, RulesError, load_rules

PROPS = settings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
BUILTIN_RULES: list[dict[str, Any]] = yaml.safe_load(BUILTIN.read_text())["rules"]
KEYS = sorted({k for rule in BUILTIN_RULES for k in rule} | {"site", "enabled", "absent"})
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True), st.text(max_size=30))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8),
                                                 inner, max_size=4)), max_leaves=12)


def _load(content: str) -> RuleBook | RulesError:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "site.yaml"
        path.write_text(content, encoding="utf-8")
        try:
            return load_rules(path)
        except RulesError as exc:
            assert str(path) in str(exc) or str(BUILTIN) in str(exc), exc
            return exc


@PROPS
@given(st.text(max_size=300))
def test_any_text_loads_or_names_the_file(content: str) -> None:
    assert isinstance(_load(content), RuleBook | RulesError)


@PROPS
@given(rules=st.lists(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6), max_size=3),
       site=st.none() | st.text(max_size=10))
def test_rule_shaped_garbage_loads_or_names_the_file(rules: list[dict[str, Any]],
                                                     site: str | None) -> None:
    doc: dict[str, Any] = {"rules": rules}
    if site is not None:
        doc["site"] = site
    assert isinstance(_load(yaml.safe_dump(doc, allow_unicode=True)), RuleBook | RulesError)


@PROPS
@given(data=st.data())
def test_a_built_in_rule_with_one_value_changed_loads_or_names_it(data: st.DataObject) -> None:
    rule = dict(data.draw(st.sampled_from(BUILTIN_RULES)))
    key = data.draw(st.sampled_from(sorted(k for k in rule if k != "name")))
    rule[key] = data.draw(VALUES)
    result = _load(yaml.safe_dump({"rules": [rule]}, allow_unicode=True))
    if isinstance(result, RulesError):
        assert result.rule in (None, rule["name"])
    else:
        assert result.find("any-site", rule["name"]) is not None or rule.get("enabled") is False
