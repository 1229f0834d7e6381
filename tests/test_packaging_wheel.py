"""A wheel built from the committed tree carries what the installed package reads at run
time, and the code finds those files where the wheel puts them.

The wheel is built for real (``pip wheel``, no build isolation: the pinned setuptools of the
test venv; about ten seconds, the C extensions included) from a copy of the files git knows,
so a file that is only present in this checkout cannot hide a gap.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, files):
        src = REPO_ROOT / name
        if src.is_file():  # a file deleted but not yet committed is skipped
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, source / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--quiet", "-w", str(work / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = (work / "dist").glob("zhengyin-*.whl")
    yield built


def names_in(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_the_wheel_carries_the_package_data(wheel: Path) -> None:
    names = names_in(wheel)
    expected = {
        "certs/types.json",
        "certs/_claims.pyi",
        "seals/_sm2p256.pyi",
        "certs/migrations/env.py",
        "certs/migrations/script.py.mako",
    }
    expected |= {f"{pkg}/py.typed" for pkg in ("chain", "certs", "seals", "verifier", "devnet")}
    expected |= {
        f"certs/migrations/versions/{p.name}"
        for p in (REPO_ROOT / "certs" / "migrations" / "versions").glob("*.py")
    }
    expected |= {
        f"chain/artefacts/{p.name}" for p in (REPO_ROOT / "contracts" / "build").glob("*.json")
    }
    expected |= {
        p.relative_to(REPO_ROOT).as_posix()
        for p in (REPO_ROOT / "verifier" / "web").rglob("*")
        if p.is_file()
    }
    assert {"chain/artefacts/IssuerRegistry.json", "verifier/web/index.html"} <= expected
    assert expected - names == set()
    # the C extensions, compiled; their sources stay out of the wheel
    for ext in ("seals/_sm2p256", "certs/_claims"):
        assert any(n.startswith(f"{ext}.") and n.endswith(".so") for n in names), ext
    assert not [n for n in names if n.endswith((".c", ".h"))]
    assert not [n for n in names if n.startswith(("tests/", "bench/", "contracts/"))]
    with zipfile.ZipFile(wheel) as archive:
        for p in (REPO_ROOT / "contracts" / "build").glob("*.json"):
            assert archive.read(f"chain/artefacts/{p.name}") == p.read_bytes()


def test_the_wheel_declares_what_pyproject_declares(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (meta,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(meta).decode())
        (entry,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(entry).decode()
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {str(Requirement(r)) for r in project["dependencies"]}
    runtime = {
        str(Requirement(r)) for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r
    }
    assert runtime == declared
    assert set(metadata.get_all("Provides-Extra") or []) == {
        "postgres", "gmssl", "test", "lint", "bench"
    }
    assert "zhengyin = verifier.cli:main" in entry_points


def test_the_installed_code_finds_its_files_inside_the_wheel(
    wheel: Path, tmp_path: Path
) -> None:
    """Unpacked wheel first on sys.path, run from a directory outside the checkout: the
    contract artefacts, the counter page, the catalogue and the migrations are read from the
    wheel's files, and the compiled extensions load."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    program = """
import json, sys
from pathlib import Path
site = Path(sys.argv[1]).resolve()
import chain, certs, seals, verifier, devnet
for pkg in (chain, certs, seals, verifier, devnet):
    assert Path(pkg.__file__).resolve().is_relative_to(site), pkg.__file__
from chain.contracts import BUILD_DIR, CONTRACT_NAMES, error_selectors, load_artefact
assert BUILD_DIR.resolve() == site / "chain" / "artefacts", BUILD_DIR
for name in CONTRACT_NAMES:
    assert load_artefact(name).deployed_bytecode.startswith("0x")
assert error_selectors()
from verifier.api.app import WEB
assert (WEB / "index.html").resolve().is_relative_to(site)
assert "/static/app.js" in (WEB / "index.html").read_text(encoding="utf-8")
from certs.store import MIGRATIONS
assert MIGRATIONS.resolve().is_relative_to(site) and (MIGRATIONS / "env.py").is_file()
from certs.types import default_registry
assert len(default_registry()) > 0
from seals import _sm2p256
from certs import _claims
for ext in (_sm2p256, _claims):
    assert Path(ext.__file__).resolve().is_relative_to(site), ext.__file__
print(json.dumps("ok"))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-c", program, str(site)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == "ok"
