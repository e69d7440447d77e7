"""Load and validate `firmware-configs/*.yaml`; a wrong file is refused naming file, key, reason."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from edge.errors import ConfigError
from edge.sensors.models import DeviceModel

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware-configs"


def load_model(path: Path | str) -> DeviceModel:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        model = DeviceModel.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{key}: {err['msg']}")
        raise ConfigError(f"{path}: " + "; ".join(problems)) from exc
    if model.model != path.stem:
        raise ConfigError(f"{path}: model: {model.model!r} differs from the file name {path.stem!r}")
    return model


def load_models(folder: Path | str = FIRMWARE_DIR) -> dict[str, DeviceModel]:
    """Every model in `folder` by name; the first wrong file stops the load."""
    models = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        model = load_model(path)
        models[model.model] = model
    return models
