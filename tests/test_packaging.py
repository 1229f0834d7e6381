"""What the package declares is what it runs: pyproject.toml's dependencies against the imports
of the code, and the locks of requirements/ against pyproject.toml and each other.

No services, no network: the source is read with ``ast``, the installed distributions with
``importlib.metadata``.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
NAME = PROJECT["name"]
RUNTIME_PACKAGES = ("chain", "certs", "seals", "verifier", "devnet")
LOCKS = ("runtime", "test", "lint", "bench")

INDIRECT = {
    "eth-hash": "eth_utils.keccak's hashing backend (the pycryptodome extra)",
    "httptools": "uvicorn's http='auto' picks it for `zhengyin serve`",
    "uvloop": "uvicorn's loop='auto' picks it for `zhengyin serve`",
    "python-multipart": "Starlette's form parser, for multipart uploads",
}
"""Runtime dependencies the code relies on without importing them, and why."""

PENDING: dict[str, str] = {}
"""Dependencies declared ahead of the code that imports them: each must leave this list once
the code imports it, which the test below demands."""


def canon(name: str) -> str:
    return canonicalize_name(name)


def requirements(extra: str | None = None) -> list[Requirement]:
    """The project's requirements (``extra=None``) or an extra's, self-references expanded."""
    if extra is None:
        return [Requirement(r) for r in PROJECT["dependencies"]]
    found: list[Requirement] = []
    for text in PROJECT["optional-dependencies"][extra]:
        req = Requirement(text)
        if canon(req.name) == canon(NAME):
            for inner in sorted(req.extras):
                found += requirements(inner)
        else:
            found.append(req)
    return found


def names(reqs: Iterable[Requirement]) -> set[str]:
    return {canon(r.name) for r in reqs}


def local_modules(*trees: str) -> set[str]:
    """What code imports from the project itself: its packages, and the modules of the
    given trees (tests and benchmarks import their helpers by file name)."""
    local = {"tests", *RUNTIME_PACKAGES, "__future__"}
    for tree in trees:
        local |= {p.stem for p in (REPO_ROOT / tree).rglob("*.py")}
    return local


def third_party_imports(paths: Iterable[Path]) -> dict[str, list[str]]:
    """Top-level module → the places (``file:line``) that import it, for every absolute
    import that is neither the standard library nor the project's own."""
    found: dict[str, list[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names:
                    continue
                where = f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
                found.setdefault(top, []).append(where)
    return found


@functools.cache
def _providers() -> dict[str, list[str]]:
    return dict(md.packages_distributions())


def distributions_of(imports: dict[str, list[str]], local: set[str]) -> dict[str, list[str]]:
    """Distribution (canonical name) → the places that import one of its modules; a module
    no installed distribution provides fails the test where it is imported."""
    providers = _providers()
    result: dict[str, list[str]] = {}
    unknown = []
    for module, places in sorted(imports.items()):
        if module in local:
            continue
        dists = providers.get(module)
        if not dists:
            unknown.append(f"{module} (imported at {', '.join(places)})")
            continue
        for dist in dists:
            result.setdefault(canon(dist), []).extend(places)
    assert not unknown, (
        "imported, but no installed distribution provides it (declare it in pyproject.toml): "
        + "; ".join(unknown)
    )
    return result


def runtime_sources() -> list[Path]:
    return sorted(p for pkg in RUNTIME_PACKAGES for p in (REPO_ROOT / pkg).rglob("*.py"))


def test_every_third_party_module_the_runtime_imports_is_declared() -> None:
    used = distributions_of(third_party_imports(runtime_sources()), local_modules())
    # gmssl-pyx: seals.sm2 imports it only when asked for that backend (the gmssl extra);
    # psycopg: SQLAlchemy loads it for postgresql+psycopg URLs (the postgres extra)
    declared = names(requirements() + requirements("gmssl") + requirements("postgres"))
    missing = {dist: places for dist, places in used.items() if dist not in declared}
    assert not missing, f"imported by the runtime packages but not declared: {missing}"


def test_every_declared_runtime_dependency_is_used() -> None:
    used = set(distributions_of(third_party_imports(runtime_sources()), local_modules()))
    declared = names(requirements())
    unused = declared - used - set(INDIRECT) - set(PENDING)
    assert not unused, f"declared in [project].dependencies but never imported: {unused}"
    assert set(INDIRECT) <= declared, "INDIRECT names a package that is no longer declared"
    assert set(PENDING) <= declared, "PENDING names a package that is no longer declared"
    imported_now = (set(INDIRECT) | set(PENDING)) & used
    assert not imported_now, (
        f"{sorted(imported_now)} imported by the code now: take them out of INDIRECT/PENDING "
        "in tests/test_packaging.py, so that they are checked like the others"
    )


def test_the_indirect_dependencies_do_their_job() -> None:
    """What INDIRECT says of each, checked here: the code would break or slow without them."""
    from eth_hash.auto import keccak  # the backend eth_utils.keccak uses

    assert keccak(b"").hex().startswith("c5d2460186f7233c")
    from uvicorn.loops.auto import auto_loop_factory
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    assert AutoHTTPProtocol.__name__ == "HttpToolsProtocol"  # h11's otherwise
    loop = auto_loop_factory()()
    try:
        assert type(loop).__module__.startswith("uvloop"), type(loop)
    finally:
        loop.close()
    from starlette import formparsers

    assert formparsers.multipart is not None  # None when python-multipart is missing


@pytest.mark.parametrize(
    ("tree", "extra"), [("tests", "test"), ("bench", "bench")], ids=["tests", "bench"]
)
def test_tests_and_benchmarks_import_only_what_they_declare(tree: str, extra: str) -> None:
    sources = sorted((REPO_ROOT / tree).rglob("*.py"))
    # bench/pdf_hostile.py imports the hostile shapes of tests/
    used = distributions_of(third_party_imports(sources), local_modules("tests", "bench"))
    declared = names(requirements()) | names(requirements(extra))
    missing = {dist: places[:3] for dist, places in used.items() if dist not in declared}
    assert not missing, f"{tree}/ imports what neither runtime nor '{extra}' declares: {missing}"


def read_lock(purpose: str) -> dict[str, str]:
    path = REPO_ROOT / "requirements" / f"{purpose}.lock"
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)", line)
        assert match, f"requirements/{purpose}.lock: not a plain pin: {line!r}"
        assert canon(match[1]) not in pins, f"requirements/{purpose}.lock pins {match[1]} twice"
        pins[canon(match[1])] = match[2]
    return pins


@pytest.mark.parametrize("purpose", LOCKS)
def test_a_lock_says_how_it_is_made_and_names_no_host(purpose: str) -> None:
    text = (REPO_ROOT / "requirements" / f"{purpose}.lock").read_text(encoding="utf-8")
    head = text.splitlines()[:4]
    assert any("python3 requirements/lock.py" in line for line in head), head
    assert "://" not in text and "--index" not in text and "--find-links" not in text
    assert read_lock(purpose)


def test_the_locks_agree_with_each_other() -> None:
    locks = {purpose: read_lock(purpose) for purpose in LOCKS}
    seen: dict[str, tuple[str, str]] = {}
    for purpose, pins in locks.items():
        for name, version in pins.items():
            first = seen.setdefault(name, (purpose, version))
            assert first[1] == version, (
                f"{name}: {version} in {purpose}.lock but {first[1]} in {first[0]}.lock"
            )
    # the tests run everything an installed wheel may run (postgres and gmssl included)
    assert locks["runtime"].items() <= locks["test"].items()


@pytest.mark.parametrize(
    ("purpose", "extra"),
    [("runtime", "postgres"), ("runtime", "gmssl"), ("test", "test"), ("lint", "lint"),
     ("bench", "bench")],
)
def test_a_lock_pins_every_declared_requirement_within_its_range(
    purpose: str, extra: str | None
) -> None:
    pins = read_lock(purpose)
    reqs = requirements() + (requirements(extra) if extra else [])
    for req in reqs:
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canon(req.name)
        assert name in pins, f"{purpose}.lock does not pin {req.name}"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{purpose}.lock pins {req.name}=={pins[name]}, outside {req}"
        )
        for extra_name in req.extras:  # e.g. psycopg[binary], reportlab[accel]
            for needed in md.requires(req.name) or []:
                inner = Requirement(needed)
                if inner.marker is not None and inner.marker.evaluate({"extra": extra_name}):
                    if not inner.marker.evaluate({"extra": ""}):
                        assert canon(inner.name) in pins, (
                            f"{purpose}.lock lacks {inner.name} ({req.name}[{extra_name}])"
                        )


def installed_closure(requirement: str) -> dict[str, str]:
    """Every installed distribution a requirement brings in (markers evaluated, extras
    followed): canonical name → installed version."""
    found: dict[str, str] = {}
    todo = [Requirement(requirement)]
    visited: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req = todo.pop()
        key = (canon(req.name), frozenset(req.extras))
        if key in visited:
            continue
        visited.add(key)
        dist = md.distribution(req.name)
        found[canon(req.name)] = dist.version
        for text in dist.requires or []:
            inner = Requirement(text)
            envs = [{"extra": e} for e in req.extras] or [{"extra": ""}]
            if inner.marker is None or any(inner.marker.evaluate(env) for env in envs):
                todo.append(inner)
    return found


def test_what_make_setup_installed_is_what_the_locks_pin() -> None:
    """Nothing the project needs (with every extra) came in unpinned or at another version."""
    pins: dict[str, str] = {}
    for purpose in LOCKS:
        pins |= read_lock(purpose)
    installed = installed_closure(f"{NAME}[test,lint,bench]")
    installed.pop(canon(NAME))
    wrong = {
        name: (version, pins.get(name, "not pinned"))
        for name, version in installed.items()
        if pins.get(name) != version
    }
    assert not wrong, f"installed version vs lock: {wrong}"


def test_the_old_single_lock_is_gone_and_named_nowhere() -> None:
    assert not (REPO_ROOT / "requirements.lock").exists()
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    stale = []
    for name in files:
        path = REPO_ROOT / name
        if name == "tests/test_packaging.py" or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if "requirements.lock" in text:
            stale.append(name)
    assert not stale, f"still naming requirements.lock: {stale}"


def test_every_runtime_package_goes_into_the_wheel() -> None:
    """`[tool.setuptools].packages` lists the packages by name: a sub-package made by a
    split (``verifier.app.service``, ``verifier.api.routes``) but not listed is missing from the
    wheel, and the installed command fails on its first import of it."""
    listed = set(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ])
    found = {
        ".".join(init.parent.relative_to(REPO_ROOT).parts)
        for top in ("chain", "certs", "seals", "verifier", "devnet")
        for init in (REPO_ROOT / top).rglob("__init__.py")
        if "migrations" not in init.parts
    }
    assert found - listed == set()
