"""Loading the rules: the built-in set, then a site's files over it, validated strictly.

A bad file stops the load with a RulesError naming the file, the rule and the field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hub.errors import HubError
from hub.rules.schema import Rule, RulesFile

BUILTIN = Path(__file__).with_name("builtin.yaml")


class RulesError(HubError):
    """A rules file that cannot be used; the message names the file, rule and field."""

    def __init__(self, path: Path | str, problem: str, rule: str | None = None) -> None:
        where = f"rules file {path}" + (f", rule {rule!r}" if rule else "")
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.rule = rule
        self.problem = problem


@dataclass(frozen=True)
class RuleBook:
    """The rules in force: `default` for every site, `by_site` where a site has its own."""

    default: tuple[Rule, ...]
    by_site: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    # the enabled rules of each rule set by the kind of event they match (None: the default
    # set): every stored event is matched, and most rules look at other kinds
    _watching: dict[str | None, dict[str, tuple[Rule, ...]]] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        watching: dict[str | None, dict[str, tuple[Rule, ...]]] = {None: _by_kind(self.default)}
        watching.update((site, _by_kind(rules)) for site, rules in self.by_site.items())
        object.__setattr__(self, "_watching", watching)

    def for_site(self, site: str) -> tuple[Rule, ...]:
        return self.by_site.get(site, self.default)

    def watching(self, site: str, kind: str) -> tuple[Rule, ...]:
        """The enabled rules of `site` that match events of `kind`, in the book's order."""
        index = self._watching.get(site if site in self.by_site else None, {})
        return index.get(kind, ())

    def find(self, site: str, name: str) -> Rule | None:
        return next((r for r in self.for_site(site) if r.name == name), None)


def _by_kind(rules: tuple[Rule, ...]) -> dict[str, tuple[Rule, ...]]:
    index: dict[str, tuple[Rule, ...]] = {}
    for rule in rules:
        if rule.enabled:
            index[rule.match.kind] = (*index.get(rule.match.kind, ()), rule)
    return index


def load_rules(path: Path | str | None = None) -> RuleBook:
    """The built-in rules with the overrides of `path` (a YAML file or a directory of them,
    read in name order). Files naming a `site:` change that site's rules only."""
    raw = {r["name"]: r for r in _read(BUILTIN).rules}
    site_files: dict[str, list[tuple[Path, RulesFile]]] = {}
    for file, parsed in _override_files(path):
        if parsed.site is None:
            raw = _merge(raw, file, parsed)
        else:
            site_files.setdefault(parsed.site, []).append((file, parsed))
    default = _validate(raw, path or BUILTIN)
    by_site: dict[str, tuple[Rule, ...]] = {}
    for site, files in site_files.items():
        merged = raw
        for file, parsed in files:
            merged = _merge(merged, file, parsed)
        by_site[site] = _validate(merged, files[-1][0])
    return RuleBook(default=default, by_site=by_site)


def _override_files(path: Path | str | None) -> list[tuple[Path, RulesFile]]:
    if path is None or path == "":
        return []
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml"))
    elif root.is_file():
        files = [root]
    else:
        raise RulesError(root, "no such file or directory")
    return [(f, _read(f)) for f in files]


def _read(path: Path) -> RulesFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(path, f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise RulesError(path, f"not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RulesError(path, "expected a mapping with `rules:` at the top")
    try:
        return RulesFile.model_validate(data)
    except ValidationError as exc:
        raise RulesError(path, _describe(exc)) from exc


def _merge(base: dict[str, dict[str, Any]], path: Path,
           parsed: RulesFile) -> dict[str, dict[str, Any]]:
    merged = dict(base)
    for rule in parsed.rules:
        name = rule["name"]
        merged[name] = _deep_merge(base[name], rule) if name in base else rule
        merged[name]["__file__"] = str(path)
    return merged


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _validate(raw: dict[str, dict[str, Any]], fallback: Path | str) -> tuple[Rule, ...]:
    rules = []
    for name, data in raw.items():
        data = dict(data)
        source = data.pop("__file__", None) or str(BUILTIN)
        try:
            rules.append(Rule.model_validate(data))
        except ValidationError as exc:
            raise RulesError(source or fallback, _describe(exc), rule=name) from exc
    return tuple(rules)


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False)[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "(top)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        problems.append(f"{loc}: {msg}")
    return "; ".join(problems)


__all__ = ["BUILTIN", "RuleBook", "RulesError", "load_rules"]
