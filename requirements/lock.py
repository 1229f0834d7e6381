"""Regenerate the locks of requirements/: one per purpose, each the `pip freeze` of a clean venv.

    python3 requirements/lock.py             # re-resolve; what is pinned stays, new needs are added
    python3 requirements/lock.py --upgrade   # resolve everything afresh (newest allowed releases)

Purposes and what goes into their venv (from pyproject.toml):

- ``runtime``: ``[project].dependencies`` (what an installed wheel needs) and the optional
  runtime backends, the ``postgres`` and ``gmssl`` extras (so ``wheel[postgres]`` is pinned too);
- ``test``, ``lint``, ``bench``: ``[project].dependencies`` and that extra (its own
  references to ``zhengyin[...]`` expanded).

The venvs are made without pip or setuptools (pip runs from outside, ``pip --python``), so a
lock holds exactly what its purpose installs. They are resolved one after the other, each
constrained by the locks already written, so a package has the same version in every lock
(a conflict stops this script). Locks name no index or host: pip's configuration decides where
packages come from. They are for CPython 3.11+ on Linux (uvloop's marker).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
PURPOSES = ("runtime", "test", "lint", "bench")
RUNTIME_EXTRAS = ("postgres", "gmssl")
HEADER = """\
# {purpose}: {what}
# Regenerate (all locks together, each from a clean venv): python3 requirements/lock.py
# Install: pip install -c requirements/{purpose}.lock {target}
"""
WHAT = {
    "runtime": "an installed zhengyin wheel ([project].dependencies; extras postgres, gmssl)",
    "test": "the test suite (runtime + the test extra, with postgres and gmssl)",
    "lint": "ruff and mypy, with the runtime packages mypy type-checks against",
    "bench": "bench/ (runtime + the bench extra)",
}
TARGET = {
    "runtime": "dist/zhengyin-*.whl",
    "test": "-e '.[test]'",
    "lint": "-e '.[lint]'",
    "bench": "-e '.[bench]'",
}


def requirements(purpose: str) -> list[str]:
    """The requirement strings a purpose's venv is made from."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name = project["name"]
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})
    wanted: list[str] = list(project["dependencies"])
    todo = list(RUNTIME_EXTRAS) if purpose == "runtime" else [purpose]
    seen: set[str] = set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in extras[extra]:
            head = req.split(";")[0].strip()
            if head.startswith(f"{name}["):  # zhengyin[postgres,gmssl]
                todo += [e.strip() for e in head[len(name) + 1 : -1].split(",")]
            else:
                wanted.append(req)
    return wanted


def pip(python: Path, *args: str) -> str:
    command = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check",
               *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def freeze(purpose: str, constraints: list[Path], work: Path) -> list[str]:
    venv = work / purpose
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    reqs = work / f"{purpose}.in"
    reqs.write_text("\n".join(requirements(purpose)) + "\n", encoding="utf-8")
    args = ["install", "--quiet", "-r", str(reqs)]
    for c in constraints:
        args += ["-c", str(c)]
    pip(python, *args)
    lines = pip(python, "freeze", "--all").splitlines()
    pins = [line for line in lines if line and not line.lower().startswith("pip==")]
    if any("==" not in line or "://" in line or line.startswith("-") for line in pins):
        sys.exit(f"{purpose}: pip freeze gave a line that is not a plain pin: {pins}")
    return pins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="do not keep the current pins")
    parser.add_argument("-c", "--constraint", action="append", type=Path, default=[],
                        help="a further constraints file (e.g. older pins to start from)")
    args = parser.parse_args()
    current = [] if args.upgrade else [LOCKS / f"{p}.lock" for p in PURPOSES]
    current = [c for c in current if c.exists()] + args.constraint
    written: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # the current locks are copied first: each new lock is written as soon as it is made
        # and constrains the next ones, so the old pins must not be read after that
        old = []
        for i, c in enumerate(current):
            copy = work / f"old-{i}.txt"
            copy.write_text(c.read_text(encoding="utf-8"), encoding="utf-8")
            old.append(copy)
        made: list[Path] = []
        for purpose in PURPOSES:
            pins = freeze(purpose, [*made, *old], work)
            text = HEADER.format(purpose=purpose, what=WHAT[purpose], target=TARGET[purpose])
            written[purpose] = text + "\n".join(pins) + "\n"
            made_file = work / f"{purpose}.lock"
            made_file.write_text(written[purpose], encoding="utf-8")
            made.append(made_file)
    for purpose, text in written.items():
        (LOCKS / f"{purpose}.lock").write_text(text, encoding="utf-8")
        print(f"requirements/{purpose}.lock: {text.count('==')} pins")


if __name__ == "__main__":
    main()
