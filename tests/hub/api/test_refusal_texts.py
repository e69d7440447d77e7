"""Every refusal a person can read exists in Chinese and English (issue 16: one language layer).

Two checks: the source (every raise of an API or hub error names a hub/texts code, and every
code it names is in the catalogue), so a refusal added without words fails here before anyone
reads it in English in the Chinese console; and the API itself, answering a set of refusals of
each kind (400, 404, 405, 409, 422, 429) in Chinese and in English."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.texts import TEXTS
from tests.hub.api.world import Client, World, build_world, pass_body

HUB = Path(__file__).resolve().parents[3] / "hub"
_HAN = re.compile(r"[\u4e00-\u9fff]")
# error classes and the argument that carries their words: (positional index, keyword)
_API_ERRORS = {"ConflictError": (1, "text"), "BadRequestError": (1, "text"),
               "UnavailableError": (1, "text"), "ApiError": (1, "text")}
_HUB_ERRORS = {"Conflict": (1, "code"), "InvalidInput": (2, "code"), "PinError": (2, "code"),
               "Refusal": (0, "code"), "PatrolError": (99, "code")}
_VALIDATORS = {"field_validator", "model_validator"}
# files an operator writes, read at start-up (refused with the key path, in the log): no API
# body is validated by them
_OPERATOR_FILES = {"settings.py", "rules/schema.py"}


def _name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        if func.attr == "one" and getattr(func.value, "id", None) == "InvalidError":
            return "InvalidError.one"
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def _words(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[index] if len(call.args) > index else None


def _coded(node: ast.expr | None) -> list[str] | None:
    """The code literals a words argument names (None: none given at all; [] for a code not
    written as a literal, e.g. passed on from a caught error)."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return None
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and re.fullmatch(r"[a-z_]+\.[a-z0-9_.]+", n.value)
            and "." in n.value and n.value.split(".")[0] in {k.split(".")[0] for k in TEXTS}]


def _validators(tree: ast.Module) -> set[int]:
    """Line ranges of pydantic validators: a ValueError there reaches people as a refusal."""
    lines: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "id", None) in _VALIDATORS
                for d in fn.decorator_list):
            lines |= set(range(fn.lineno, (fn.end_lineno or fn.lineno) + 1))
    return lines


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(HUB.parent)
    validators = _validators(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node)
        operator = any(str(where).endswith(f) for f in _OPERATOR_FILES)
        if name == "ValueError" and node.lineno in validators and not operator:
            found.append(f"{where}:{node.lineno}: ValueError in a validator (use Refusal)")
            continue
        if name == "InvalidError.one":
            spec: tuple[int, str] | None = (2, "code")
        else:
            spec = _API_ERRORS.get(name or "") or _HUB_ERRORS.get(name or "")
        if spec is None or (name in _HUB_ERRORS and path.name == "errors.py"):
            continue
        if name == "Refusal" and path.name == "validation.py":
            continue
        codes = _coded(_words(node, *spec))
        if codes is None:
            found.append(f"{where}:{node.lineno}: {name} without a hub/texts code")
        for code in codes or []:
            if code not in TEXTS:
                found.append(f"{where}:{node.lineno}: {name} names {code!r}, not in the catalogue")
    return found


def test_every_refusal_raised_names_its_words_in_the_catalogue() -> None:
    problems = [p for path in sorted(HUB.rglob("*.py")) for p in _problems(path)]
    assert problems == [], "\n".join(problems)


def test_the_check_finds_a_refusal_without_words(tmp_path: Path) -> None:
    """The scan can fail: an English-only refusal of each kind is caught."""
    source = tmp_path / "bad.py"
    source.write_text(
        "from pydantic import field_validator\n"
        "def f():\n"
        "    raise ConflictError('taken')\n"
        "def g():\n"
        "    raise InvalidError.one('name', 'bad')\n"
        "def h():\n"
        "    raise InvalidInput('name', 'bad')\n"
        "def i():\n"
        "    raise ConflictError('taken', ('error.no_such_code', {}))\n"
        "class M:\n"
        "    @field_validator('x')\n"
        "    def v(cls, value):\n"
        "        raise ValueError('bad')\n", encoding="utf-8")
    global HUB
    real, HUB = HUB, tmp_path
    try:
        found = _problems(source)
    finally:
        HUB = real
    assert [p.split(": ", 1)[1] for p in found] == [
        "ConflictError without a hub/texts code", "InvalidError.one without a hub/texts code",
        "InvalidInput without a hub/texts code",
        "ConflictError names 'error.no_such_code', not in the catalogue",
        "ValueError in a validator (use Refusal)"]


def _messages(body: object) -> list[str]:
    assert isinstance(body, dict), body
    if isinstance(body.get("detail"), list):
        return [str(p["message"]) for p in body["detail"]]
    return [str(body["message"])]


async def _refusals(w: World) -> list[tuple[str, str, object, int]]:
    _, vp = await w.call("POST", "/visitor-passes", "guard", 201,
                         json=pass_body(w.unit["home"], "home"))
    await w.call("POST", f"/visitor-passes/{vp['id']}/revoke", "guard", 200)
    _, card = await w.call("GET", f"/cards/{w.ids['cards']['home']}", "manager", 200)
    deep = "[" * 100 + "]" * 100
    return [
        ("POST", "/sites", {"id": "sunrise", "name": "又一个", "timezone": "Asia/Shanghai"}, 409),
        ("DELETE", f"/buildings/{w.building['home']}", None, 409),
        ("POST", "/users", {"username": "manager", "password": "0123456789", "role": "guard",
                            "site_id": "sunrise"}, 409),
        ("POST", "/cards", {"resident_id": w.ids["residents"]["home"],
                            "card_number": card["card_number"]}, 409),
        ("GET", f"/visitor-passes/{vp['id']}/qr.png", None, 409),
        ("POST", f"/edges/{w.ids['edges']['home']}/reset-config", {"reason": "恢复"}, 409),
        ("POST", "/residents", {"site_id": "sunrise"}, 422),
        ("POST", "/residents", {"site_id": "sunrise", "name": "某", "unit_id": 10**6}, 422),
        ("GET", "/visitor-passes?cursor=nonsense", None, 422),
        ("POST", "/residents", "{not json", 400),
        ("POST", "/residents", "", 400),
        ("POST", "/residents", deep, 400),
        ("GET", "/residents/999999", None, 404),
        ("GET", "/no-such-thing", None, 404),
        ("PUT", "/residents", {}, 405),
    ]


@pytest.mark.integration
async def test_refusals_answer_in_the_readers_language(
        client: Client, sessions: async_sessionmaker[AsyncSession]) -> None:
    w = await build_world(client, sessions)
    for method, path, body, status in await _refusals(w):
        said = {}
        for lang in ("zh-CN", "en"):
            data = body if isinstance(body, str) else (None if body is None else json.dumps(body))
            _, answer = await w.call(method, path, "admin", status, data=data, headers={
                "Accept-Language": lang, "Content-Type": "application/json"})
            said[lang] = _messages(answer)
        where = f"{method} {path} ({status})"
        assert all(_HAN.search(m) for m in said["zh-CN"]), f"{where}: {said['zh-CN']}"
        assert said["en"] != said["zh-CN"], f"{where}: {said['en']}"
        assert not any(re.search(r"\b(?:is|the|already|not)\b", m) for m in said["zh-CN"]), (
            f"{where}: English in the Chinese answer {said['zh-CN']}")
