"""The rule language: pydantic models of a rules file, strict (unknown keys are refused).

A rule matches events of one kind whose fields meet its conditions, and then either acts
at once, counts (`count`: N matches within a window, per key), or starts a timer
(`persist`: the condition holds for a while, until another condition resets it;
`absence`: no matching event for a while). Fields are dotted paths into the event as the
rules see it (see `hub.rules.view`): `site`, `edge`, `device`, `kind`, `data.<field>`,
`readings.<name>` (telemetry), and in templates also `rule`, `count`, `for_s`.
"""

from __future__ import annotations

import operator
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.rules.view import KINDS, check_path
from hub.texts import TEXTS, fields_of

Severity = Literal["info", "minor", "major", "critical"]
Priority = Literal["low", "normal", "high", "urgent"]
CommandName = Literal["unlock", "lock", "lockdown", "release", "resync", "elevator_recall"]
RuleName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Scalar = str | int | float | bool
_FIELD_IN_TEMPLATE = re.compile(r"\{([^{}]*)\}")
_TEMPLATE_ONLY = ("rule", "count", "for_s")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """One test on a field; several keys in one condition must all hold."""

    equals: Scalar | None = None
    not_equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)
    not_in: list[Scalar] | None = Field(default=None, min_length=1)
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None
    exists: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _scalar_means_equals(cls, value: Any) -> Any:
        return {"equals": value} if isinstance(value, str | int | float | bool) else value

    @model_validator(mode="after")
    def _says_something(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("a condition needs at least one of equals, not_equals, in, "
                             "not_in, lt, le, gt, ge, exists")
        return self

    def holds(self, value: Any, present: bool) -> bool:
        if self.exists is not None and present != self.exists:
            return False
        if not present:
            return self.exists is False  # a missing field meets no other test
        if self.equals is not None and not _same(value, self.equals):
            return False
        if self.not_equals is not None and _same(value, self.not_equals):
            return False
        if self.in_ is not None and not any(_same(value, v) for v in self.in_):
            return False
        if self.not_in is not None and any(_same(value, v) for v in self.not_in):
            return False
        if self.lt is None and self.le is None and self.gt is None and self.ge is None:
            return True  # most conditions: no bound (every stored event meets them)
        bounds = ((self.lt, operator.lt), (self.le, operator.le),
                  (self.gt, operator.gt), (self.ge, operator.ge))
        for bound, compare in bounds:
            if bound is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            if not compare(value, bound):
                return False
        return True


def _same(value: Any, wanted: Scalar) -> bool:
    # YAML `true` must not equal 1, nor "1" equal 1
    return type(value) is type(wanted) and value == wanted if isinstance(wanted, bool) \
        else (not isinstance(value, bool) and value == wanted)


Conditions = dict[str, Condition]


class TextPair(_Strict):
    """A parameter its source gives in both languages (a device model's fault text)."""

    en: str = Field(max_length=500)
    zh: str = Field(max_length=500)


class TextWord(_Strict):
    """A parameter that is a text of the catalogue: `device_type.{data.device_type}`."""

    code: str = Field(min_length=1, max_length=64)


ParamTemplate = str | TextPair | TextWord


class _Coded(_Strict):
    """A text given as a hub/texts code (`text`) with parameter templates (`params`), read in
    each reader's language; the older free `message`-style text is still accepted."""

    text: str | None = Field(default=None, max_length=64, description="a hub/texts code")
    params: dict[str, ParamTemplate] = Field(default_factory=dict)

    def _codes(self) -> list[str]:
        return [self.text] if self.text else []

    @model_validator(mode="after")
    def _known_text(self) -> _Coded:
        for code in self._codes():
            if code not in TEXTS:
                raise ValueError(f"text {code!r} is not in hub/texts/catalogue.py")
            missing = set().union(*(fields_of(t) for t in TEXTS[code])) - set(self.params)
            if missing:
                raise ValueError(f"text {code!r} needs params {', '.join(sorted(missing))}")
        if self.params and not self.text:
            raise ValueError("params go with a text code")
        return self

    def param_templates(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name, value in self.params.items():
            if isinstance(value, str):
                out.append((f"params.{name}", value))
            elif isinstance(value, TextPair):
                out += [(f"params.{name}.en", value.en), (f"params.{name}.zh", value.zh)]
            else:
                out.append((f"params.{name}.code", value.code))
        return out


class Match(_Strict):
    kind: Literal["access", "door", "device", "telemetry", "agent", "camera", "vehicle", "lane",
                  "edge", "homesec"]
    where: Conditions = Field(default_factory=dict, description="every condition must hold")


class Count(_Strict):
    """Act when `n` matches with the same key fall within `within_s` seconds (event time)."""

    n: int = Field(ge=2, le=10_000)
    within_s: float = Field(gt=0, le=7 * 86400)
    by: list[str] = Field(default_factory=lambda: ["site", "device"], min_length=1)


class Persist(_Strict):
    """Act when the match holds for `for_s` seconds with no `until` event for the same key;
    `on_reset` of the rule runs when `until` comes after the rule acted."""

    for_s: float = Field(gt=0, le=30 * 86400)
    by: list[str] = Field(default_factory=lambda: ["site", "edge", "device"], min_length=1)
    until: Conditions = Field(min_length=1, description="the event (same kind) that resets")


class Absence(_Strict):
    """Act when no matching event arrives for `for_s` seconds after the last one (a silent
    device); `on_reset` runs when one arrives again after the rule acted."""

    for_s: float = Field(gt=0, le=30 * 86400)
    by: list[str] = Field(default_factory=lambda: ["site", "edge", "device"], min_length=1)


class RaiseAlarm(_Coded):
    type: str = Field(min_length=1, max_length=64)
    severity: Severity
    severity_from: str | None = Field(
        default=None, description="a field whose value, when a severity, is used instead "
        "(e.g. data.severity: the device's own rating of its fault)")
    key: str = Field(default="{rule}:{site}:{edge}:{device}", min_length=1, max_length=300,
                     description="dedup key template: one open alarm per key and site")
    message: str | None = Field(default=None, min_length=1, max_length=500,
                                description="free text, when no `text` code is given")

    @model_validator(mode="after")
    def _has_message(self) -> RaiseAlarm:
        if not self.text and not self.message:
            raise ValueError("an alarm needs a text code (with params) or a message")
        return self


class ClearAlarm(_Coded):
    key: str = Field(min_length=1, max_length=300)
    note: str | None = Field(default=None, max_length=500,
                             description="free text, when no `text` code is given")


class OpenWorkOrder(_Coded):
    skill: str = Field(default="{data.skill|general}", min_length=1, max_length=64)
    priority: Priority = Field(default="normal", description="when priority_from gives none")
    priority_from: str | None = Field(
        default=None, description="a severity field (data.severity): the priority follows it "
        "and the device type (hub.workorders.priority)")
    fault_code: str = Field(default="{data.code}", min_length=1, max_length=64)
    title: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _has_title(self) -> OpenWorkOrder:
        if not self.text and not self.title:
            raise ValueError("a work order needs a text code (with params) or a title")
        return self


class SendCommand(_Strict):
    command: CommandName
    edge: str = Field(default="{edge}", min_length=1)
    door: str | None = None
    reason: str = Field(min_length=1, max_length=500)
    duration_s: float | None = Field(default=None, gt=0, le=3600)

    @model_validator(mode="after")
    def _door_when_needed(self) -> SendCommand:
        if self.command in ("unlock", "lock") and self.door is None:
            raise ValueError(f"command {self.command!r} needs a door")
        return self


class PostNotice(_Coded):
    """`text: notice.x` names the codes `notice.x.title` and `notice.x.body`."""

    audience: Literal["site", "building"] = "building"
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=4000)
    valid_s: float = Field(default=86400, gt=0, le=365 * 86400)
    on_boards: bool = Field(default=True, description="also on the LED boards of its scope, "
                            "like a manager's notice marked for them")

    def _codes(self) -> list[str]:
        return [f"{self.text}.title", f"{self.text}.body"] if self.text else []

    @model_validator(mode="after")
    def _has_words(self) -> PostNotice:
        if not self.text and not (self.title and self.body):
            raise ValueError("a notice needs a text code (with params) or a title and a body")
        return self


class Action(_Strict):
    """Exactly one of the keys."""

    raise_alarm: RaiseAlarm | None = None
    clear_alarm: ClearAlarm | None = None
    open_work_order: OpenWorkOrder | None = None
    send_command: SendCommand | None = None
    post_notice: PostNotice | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("an action is exactly one of raise_alarm, clear_alarm, "
                             f"open_work_order, send_command, post_notice (got {given or 'none'})")
        return self

    @property
    def body(self) -> BaseModel:
        body: BaseModel = next(getattr(self, k) for k in type(self).model_fields if getattr(self, k))
        return body

    def templates(self) -> list[tuple[str, str]]:
        """(field name, template) of every text this action renders."""
        body = self.body
        name = next(k for k in type(self).model_fields if getattr(self, k) is not None)
        plain = [(f"{name}.{k}", v) for k, v in body.model_dump().items() if isinstance(v, str)
                 and k not in ("type", "severity", "severity_from", "priority", "command",
                               "audience", "text", "priority_from")]
        coded = body.param_templates() if isinstance(body, _Coded) else []
        return plain + [(f"{name}.{k}", v) for k, v in coded]


class Rule(_Strict):
    name: RuleName
    description: str = ""
    enabled: bool = True
    match: Match
    count: Count | None = None
    persist: Persist | None = None
    absence: Absence | None = None
    actions: list[Action] = Field(min_length=1)
    on_reset: list[Action] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        timing = [k for k in ("count", "persist", "absence") if getattr(self, k) is not None]
        if len(timing) > 1:
            raise ValueError(f"a rule counts or times in one way only, not {' and '.join(timing)}")
        if self.on_reset and not (self.persist or self.absence):
            raise ValueError("on_reset needs persist or absence")
        kind = self.match.kind
        paths: list[tuple[str, str]] = [(f"match.where.{p}", p) for p in self.match.where]
        if self.count:
            paths += [(f"count.by.{i}", p) for i, p in enumerate(self.count.by)]
        if self.persist:
            paths += [(f"persist.by.{i}", p) for i, p in enumerate(self.persist.by)]
            paths += [(f"persist.until.{p}", p) for p in self.persist.until]
        if self.absence:
            paths += [(f"absence.by.{i}", p) for i, p in enumerate(self.absence.by)]
        for where, path in paths:
            problem = check_path(kind, path)
            if problem:
                raise ValueError(f"{where}: {problem}")
        for group in ("actions", "on_reset"):
            for i, action in enumerate(getattr(self, group)):
                alarm, order = action.raise_alarm, action.open_work_order
                if alarm is not None and alarm.severity_from is not None:
                    problem = check_path(kind, alarm.severity_from)
                    if problem:
                        raise ValueError(f"{group}.{i}.raise_alarm.severity_from: {problem}")
                if order is not None and order.priority_from is not None:
                    problem = check_path(kind, order.priority_from)
                    if problem:
                        raise ValueError(f"{group}.{i}.open_work_order.priority_from: {problem}")
                for field, template in action.templates():
                    for found in _FIELD_IN_TEMPLATE.findall(template):
                        path = found.partition("|")[0]
                        if path in _TEMPLATE_ONLY:
                            continue
                        problem = check_path(kind, path)
                        if problem:
                            raise ValueError(f"{group}.{i}.{field}: {{{path}}}: {problem}")
        return self

    @property
    def key_fields(self) -> list[str]:
        timing = self.count or self.persist or self.absence
        return list(timing.by) if timing is not None else []


class RulesFile(_Strict):
    """A rules file: `rules:` (new rules, or changes to a rule of the same name: the keys
    given replace the built-in's, dictionaries merged), optionally only for one `site:`."""

    site: str | None = Field(default=None, min_length=1, max_length=64)
    rules: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _named(cls, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, rule in enumerate(rules):
            if not isinstance(rule.get("name"), str):
                raise ValueError(f"rule {i} has no name")
        return rules


__all__ = ["KINDS", "Action", "Condition", "Match", "ParamTemplate", "Rule", "RulesFile",
           "Severity", "TextPair", "TextWord"]
