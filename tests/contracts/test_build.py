"""The committed artefacts are exactly what the pinned compiler makes of the sources."""

from __future__ import annotations

import json
import subprocess

from chain.contracts import CONTRACT_NAMES, load_artefact
from tests.conftest import REPO_ROOT


def test_recompiling_reproduces_the_committed_artefacts_byte_for_byte() -> None:
    result = subprocess.run(
        ["node", str(REPO_ROOT / "contracts" / "compile.mjs"), "--check"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compiler_is_the_pinned_one() -> None:
    pinned = json.loads((REPO_ROOT / "package.json").read_text())["dependencies"]["solc"]
    for name in CONTRACT_NAMES:
        raw = json.loads((REPO_ROOT / "contracts" / "build" / f"{name}.json").read_text())
        assert raw["compiler"]["version"].startswith(pinned + "+commit.")
        assert len(bytes.fromhex(load_artefact(name).bytecode[2:])) > 1000
