"""The layers of DESIGN.md's table are import-linter contracts (pyproject.toml): the real tree
keeps them, and a copy of it with one forbidden import breaks the contract, naming the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("wire", "edge", "hub", "simulators", "lintel")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the packages under `root`, not the installed ones, are analysed.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_tree_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages and pyproject.toml, copied once; each case edits one file and restores it."""
    root = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(ROOT / "pyproject.toml", root)
    return root


@pytest.mark.parametrize(("module", "line", "contract", "named"), [
    ("wire/topics.py", "import hub", "wire is the contract", "wire.topics -> hub"),
    ("edge/drivers/osdp/bus.py", "import edge.access.door",
     "Drivers know only the stdlib", "edge.drivers.osdp.bus -> edge.access.door"),
    ("edge/access/schedule.py", "import paho.mqtt.client",
     "The door decides without drivers, uplink or network", "edge.access.schedule -> paho"),
    ("hub/api/core/meta.py", "import hub.console", "The console sits on the API",
     "hub.api.core.meta -> hub.console"),
    ("hub/rules/engine.py", "import hub.api.core.store", "The hub's domains",
     "hub.rules.engine -> hub.api.core.store"),
    ("hub/api/core/scope.py", "import hub.api.alarms.routes", "The API's core imports none",
     "hub.api.core.scope -> hub.api.alarms.routes"),
    ("hub/api/meters/routes.py", "import hub.api.app", "The API's domains never import",
     "hub.api.meters.routes -> hub.api.app"),
    ("edge/config.py", "import hub.settings", "Edge and hub never import each other",
     "edge.config -> hub.settings"),
    ("edge/outbox.py", "from tests.support import disk", "Production code never imports the test",
     "edge.outbox -> tests"),
    ("hub/live.py", "import simulators.osdp_door", "Only the lintel CLI and demo start simulators",
     "hub.live -> simulators.osdp_door"),
])
def test_a_forbidden_import_breaks_its_contract(copy: Path, module: str, line: str,
                                                contract: str, named: str) -> None:
    path = copy / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # injected by the architecture test\n")
    try:
        result = _lint_imports(copy)
    finally:
        path.write_text(original)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    # One import may break more than one contract (wire -> hub also joins edge to hub).
    broken = [ln for ln in out.splitlines() if ln.endswith(" BROKEN")]
    assert any(ln.startswith(contract) for ln in broken), broken
    assert named in out, out
