"""The device models an installer may choose: `firmware-configs/*.yaml`, read for what the hub
checks (name, type, transports, factory unit id, floors). The edge validates the whole file."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware-configs"


@dataclass(frozen=True, kw_only=True)
class CatalogModel:
    model: str
    device_type: str
    description: str
    transports: tuple[str, ...]
    unit_id: int
    # the floors a lift controller can enable, in its own numbering (None: not a lift)
    lowest_floor: int | None = None
    floor_count: int | None = None
    # an alarm panel's zones: number -> (English name, Chinese name)
    zones: dict[int, tuple[str, str]] = field(default_factory=dict)

    def floors(self) -> list[int] | None:
        """The building floors the controller enables, counted as wire.floors does (1 the
        ground floor, -1 B1, no floor 0): `floor_count` of them from `lowest_floor` up."""
        if self.lowest_floor is None or self.floor_count is None:
            return None
        floors = range(self.lowest_floor, self.lowest_floor + self.floor_count + 1)
        return [f for f in floors if f != 0][:self.floor_count]


def _model(path: Path, raw: dict[str, Any]) -> CatalogModel:
    transport = raw.get("transport") or {}
    floors = raw.get("floor_access") or {}
    zones = (raw.get("security_zones") or {}).get("zones") or []
    return CatalogModel(
        model=str(raw.get("model", path.stem)), device_type=str(raw.get("device_type", "")),
        description=str(raw.get("description", "")),
        transports=tuple(transport.get("kinds") or ()), unit_id=int(transport.get("unit_id", 1)),
        lowest_floor=floors.get("lowest_floor"), floor_count=floors.get("floors"),
        zones={int(z["zone"]): (str(z["name_en"]), str(z["name_zh"])) for z in zones})


@cache
def load_catalog(folder: Path = FIRMWARE_DIR) -> dict[str, CatalogModel]:
    """Every model by name (read once per process: the files ship with the code)."""
    models = {}
    for path in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(raw, dict):
            model = _model(path, raw)
            models[model.model] = model
    return models


__all__ = ["FIRMWARE_DIR", "CatalogModel", "load_catalog"]
