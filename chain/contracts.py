"""Loading the committed contract artefacts (``contracts/build/*.json``: ABI + bytecode).

The artefacts are built by ``node contracts/compile.mjs`` with the pinned npm ``solc``; this
module only reads them, so nothing at run time needs a compiler. A wheel carries them as
``chain/artefacts/*.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import keccak

from chain.errors import ArtefactError


def _build_dir() -> Path:
    """Where the artefacts are: ``chain/artefacts/`` in an installed wheel (pyproject.toml maps
    ``contracts/build`` there), ``contracts/build`` in a checkout (an editable install)."""
    here = Path(__file__).resolve().parent
    packaged = here / "artefacts"
    if packaged.is_dir():
        return packaged
    return here.parent / "contracts" / "build"


BUILD_DIR = _build_dir()
CONTRACT_NAMES = ("IssuerRegistry", "CertificateRegistry")


@dataclass(frozen=True)
class Artefact:
    """A compiled contract."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    """Creation code, ``0x``-prefixed hex."""
    deployed_bytecode: str
    """Runtime code, ``0x``-prefixed hex: what ``eth_getCode`` returns after deployment."""


@cache
def load_artefact(name: str, build_dir: Path = BUILD_DIR) -> Artefact:
    path = build_dir / f"{name}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Artefact(
            name=raw["contractName"],
            abi=tuple(raw["abi"]),
            bytecode=raw["bytecode"],
            deployed_bytecode=raw["deployedBytecode"],
        )
    except FileNotFoundError as exc:
        raise ArtefactError(f"contract artefact {path.name} is missing from {build_dir}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtefactError(f"contract artefact {path.name} is malformed: {exc}") from exc


@dataclass(frozen=True)
class ErrorSpec:
    """A custom error of a contract ABI."""

    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]


def _abi_type(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


@cache
def error_selectors() -> dict[bytes, ErrorSpec]:
    """4-byte selector → custom error, over every contract's ABI (plus ``Error``/``Panic``)."""
    specs: dict[bytes, ErrorSpec] = {
        bytes.fromhex("08c379a0"): ErrorSpec("Error", ("message",), ("string",)),
        bytes.fromhex("4e487b71"): ErrorSpec("Panic", ("code",), ("uint256",)),
    }
    for name in CONTRACT_NAMES:
        for item in load_artefact(name).abi:
            if item.get("type") != "error":
                continue
            types = tuple(_abi_type(p) for p in item["inputs"])
            names = tuple(p["name"] or f"arg{i}" for i, p in enumerate(item["inputs"]))
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            specs[selector] = ErrorSpec(item["name"], names, types)
    return specs
