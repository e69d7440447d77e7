"""docker-compose.yml read without Docker: services, their mounts and environment, resolved
against the host folder the file sits in (a copy that deploy/bootstrap.sh has filled)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def deployment_copy(dest: Path) -> Path:
    """docker-compose.yml and deploy/ copied to `dest`, then bootstrapped as docs/operations.md
    says."""
    shutil.copy(REPO / "docker-compose.yml", dest / "docker-compose.yml")
    shutil.copytree(REPO / "deploy", dest / "deploy",
                    ignore=shutil.ignore_patterns("*.env", "hub", "edges", "tls",
                                                  "dynamic-security.json"))
    lintel = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin" / "lintel"
    if not lintel.exists():
        lintel = REPO / ".venv" / "bin" / "lintel"
    subprocess.run(["sh", str(dest / "deploy" / "bootstrap.sh")], check=True, timeout=60,
                   env={**os.environ, "LINTEL": str(lintel)}, capture_output=True)
    return dest


@dataclass(frozen=True)
class Service:
    name: str
    spec: dict[str, Any]
    root: Path

    def binds(self) -> dict[str, Path]:
        """Container path -> host path of each bind mount."""
        out: dict[str, Path] = {}
        for volume in self.spec.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith(("./", "/")):
                out[target] = (self.root / source).resolve()
        return out

    def named_volumes(self) -> list[str]:
        return [v.split(":")[0] for v in self.spec.get("volumes", [])
                if not v.split(":")[0].startswith(("./", "/"))]

    def host_path(self, container_path: str) -> Path | None:
        """Where a path inside the container comes from on the host (None: not mounted)."""
        for target, source in sorted(self.binds().items(), key=lambda kv: -len(kv[0])):
            if container_path == target:
                return source
            if container_path.startswith(target.rstrip("/") + "/"):
                return source / container_path[len(target.rstrip("/")) + 1:]
        return None

    def env_files(self) -> list[Path]:
        files = self.spec.get("env_file", [])
        return [self.root / f for f in ([files] if isinstance(files, str) else files)]

    def environment(self) -> dict[str, str]:
        """What the container's environment gets: env files, then `environment:`."""
        env: dict[str, str] = {}
        for path in self.env_files():
            env.update(read_env_file(path))
        env.update({k: str(v) for k, v in (self.spec.get("environment") or {}).items()})
        return env


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}:{number}: not NAME=value"
        env[key.strip()] = value
    return env


def load(root: Path) -> tuple[dict[str, Any], dict[str, Service]]:
    doc = yaml.safe_load((root / "docker-compose.yml").read_text())  # `<<:` merge keys resolved
    return doc, {name: Service(name, spec, root) for name, spec in doc["services"].items()}


def mosquitto_conf(path: Path) -> list[tuple[str, str]]:
    """(option, value) lines of a mosquitto.conf, following include_dir (*.conf files)."""
    lines: list[tuple[str, str]] = []
    for raw in path.read_text().splitlines():
        if raw.strip() and not raw.lstrip().startswith("#"):
            option, _, value = raw.strip().partition(" ")
            lines.append((option, value.strip()))
    return lines
