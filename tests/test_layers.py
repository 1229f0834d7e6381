"""Imports go only down the layers of docs/architecture.md: a module never imports a layer
above its own (a newcomer can change an upper layer without breaking a lower one)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# each layer, and the layers above it (which it must not import)
ABOVE: dict[str, tuple[str, ...]] = {
    "seals": ("chain", "certs", "devnet", "verifier"),
    "chain": ("seals", "certs", "devnet", "verifier"),
    "certs": ("devnet", "verifier"),
    "devnet": ("verifier",),
    "verifier.index": ("verifier.checks", "verifier.app", "verifier.api", "verifier.cli"),
    "verifier.checks": ("verifier.app", "verifier.api", "verifier.cli"),
    "verifier.app": ("verifier.api", "verifier.cli"),
    "verifier.api": ("verifier.cli",),
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("layer", sorted(ABOVE))
def test_no_module_imports_a_layer_above_its_own(layer: str) -> None:
    sources = sorted((ROOT / layer.replace(".", "/")).rglob("*.py"))
    assert sources, layer
    wrong = sorted(
        f"{_module(path)} imports {name}"
        for path in sources
        for name in _imports(path)
        if any(_within(name, above) for above in ABOVE[layer])
    )
    assert not wrong, wrong


def test_the_test_itself_sees_an_upward_import(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("from verifier.app.catalogue import authorized\nimport seals.sm3\n")
    assert "verifier.app.catalogue" in _imports(source)
    assert "seals.sm3" in _imports(source)
