"""`{data.door}`-style templates, filled from an event's fields (see hub.rules.view)."""

from __future__ import annotations

import re
from typing import Any

_FIELD = re.compile(r"\{([^{}]*)\}")


def render(template: str, context: dict[str, Any]) -> str:
    """Each `{path}` becomes the field's value; a field the event lacks becomes `-`, or the
    default given after a bar: `{data.skill|general}`."""

    def value(match: re.Match[str]) -> str:
        path, _, default = match.group(1).partition("|")
        found = context.get(path)
        if found is None or found == "":
            return default or "-"
        if isinstance(found, float) and found.is_integer():
            return str(int(found))
        return str(found)

    return _FIELD.sub(value, template)


__all__ = ["render"]
