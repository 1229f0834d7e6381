"""The README's configuration table lists exactly the environment variables the project
reads, with the defaults the code has (issue #17: "configuration including every
environment variable read anywhere ... match the code, checked by a test").

Fast: no services. The whole tree is scanned (packages, tests, bench, the Makefile, shell
and JavaScript files), however a variable is read:

- a field of a pydantic ``BaseSettings`` class, or of a subclass of one defined in the tree
  (``env_prefix`` + field name, or its alias), its default compared with the table's;
- ``os.environ.get(NAME[, default])``, ``.setdefault``, ``.pop``, ``os.getenv(NAME[,
  default])`` (also as ``environ``/``getenv`` imported from ``os``; without a default the
  variable is optional: "unset"), ``os.environ[NAME]`` and ``NAME in os.environ``; the name
  a string literal or a constant assigned in the module;
- ``NAME ?= default`` in a Makefile, ``${NAME:-default}`` (and ``-``, ``=``, ``?``, ``+``
  forms) in a shell script, ``process.env.NAME`` in JavaScript.

Writing a variable (``os.environ[NAME] = …``, an ``env=`` dict for a child process) is not
reading it. A read whose name cannot be told from the source is itself a failure, naming
the line. The table's default cell starts with the default in backticks, or with "unset"
when the code has none.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parent.parent
SECTION = "## Configuration (environment)"
"""The README heading whose tables list the variables."""

_SKIP_DIRS = frozenset(
    {"node_modules", "__pycache__", "build", "dist", "site-packages", ".git", ".venv"}
)
_KEEP_HIDDEN = frozenset({".ci"})
_NO_DEFAULT: Any = object()
"""The read has no default the code states (``os.environ[...]``, ``.get(NAME)``...)."""


@dataclass(frozen=True)
class EnvRead:
    """One place that reads an environment variable."""

    name: str
    where: str
    """``path:line`` (or ``path Class.field`` for a settings field)."""
    how: str
    default: Any = field(default=_NO_DEFAULT, compare=False)


@dataclass
class Scan:
    reads: list[EnvRead] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    classes: list[tuple[str, str, frozenset[str]]] = field(default_factory=list)
    """Classes seen: ``(path, name, names of its bases)``, to find the settings classes."""


# ----------------------------------------------------------------------------- scanning


def _files(root: Path) -> Iterator[Path]:
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in _SKIP_DIRS
            and not d.endswith(".egg-info")
            and (not d.startswith(".") or d in _KEEP_HIDDEN)
        )
        for name in sorted(files):
            yield Path(here) / name


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "environ") or (
        isinstance(node, ast.Attribute) and node.attr == "environ"
    )


def _is_getenv(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "getenv") or (
        isinstance(node, ast.Attribute) and node.attr == "getenv"
    )


def _string_constants(tree: ast.Module) -> dict[str, set[str]]:
    """Names assigned a string literal anywhere in the module (``PASSPHRASE_ENV = "..."``)."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for target in targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, set()).add(value.value)
    return found


def _literal_default(node: ast.expr | None) -> Any:
    """The default of ``.get(NAME[, default])``: None when absent (the variable is optional),
    the literal when it is one, else unknown."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value
    return _NO_DEFAULT


def _python_reads(path: Path, rel: str, scan: Scan) -> None:
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=rel)
    constants = _string_constants(tree)

    def names(arg: ast.expr, line: int, how: str) -> list[str]:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return [arg.value]
        if isinstance(arg, ast.Name) and arg.id in constants:
            return sorted(constants[arg.id])
        scan.problems.append(
            f"{rel}:{line}: {how} reads an environment variable whose name cannot be told "
            f"from the source ({ast.unparse(arg)}); use a string literal or a constant of "
            "the module, so the README's configuration table can be checked"
        )
        return []

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in {"get", "setdefault", "pop"} and (
                _is_environ(func.value)
            ):
                how = f"os.environ.{func.attr}"
                default = _literal_default(node.args[1] if len(node.args) > 1 else None)
            elif _is_getenv(func):
                how = "os.getenv"
                default = _literal_default(node.args[1] if len(node.args) > 1 else None)
            else:
                continue
            for name in names(node.args[0], node.lineno, how):
                scan.reads.append(EnvRead(name, f"{rel}:{node.lineno}", how, default))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _is_environ(node.value)
        ):
            for name in names(node.slice, node.lineno, "os.environ[...]"):
                scan.reads.append(EnvRead(name, f"{rel}:{node.lineno}", "os.environ[...]"))
        elif isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) for op in node.ops
        ):
            if any(_is_environ(c) for c in node.comparators):
                for name in names(node.left, node.lineno, "... in os.environ"):
                    scan.reads.append(EnvRead(name, f"{rel}:{node.lineno}", "in os.environ"))
        elif isinstance(node, ast.ClassDef):
            bases = frozenset(
                b.id if isinstance(b, ast.Name) else b.attr
                for b in node.bases
                if isinstance(b, ast.Name | ast.Attribute)
            )
            scan.classes.append((rel, node.name, bases))


def _settings_classes(scan: Scan) -> None:
    """The fields of every class that derives, within the tree, from ``BaseSettings``."""
    settings = {"BaseSettings"}
    found: list[tuple[str, str]] = []
    while True:
        new = [(r, n) for r, n, bases in scan.classes if bases & settings and n not in settings]
        if not new:
            break
        settings |= {n for _, n in new}
        found += new
    for rel, name in found:
        _settings_reads(rel, name, scan)


def _settings_reads(rel: str, class_name: str, scan: Scan) -> None:
    """Every field of a ``BaseSettings`` class, with its environment name and default."""
    module = ".".join(Path(rel).with_suffix("").parts)
    cls = getattr(importlib.import_module(module), class_name)
    if not (isinstance(cls, type) and issubclass(cls, BaseSettings)):
        return  # a namesake of a settings class
    config = cls.model_config
    prefix = config.get("env_prefix", "") or ""
    upper = not config.get("case_sensitive", False)
    for field_name, info in cls.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        env = alias if isinstance(alias, str) else prefix + field_name
        scan.reads.append(
            EnvRead(
                env.upper() if upper else env,
                f"{rel} {class_name}.{field_name}",
                "settings field",
                info.get_default(call_default_factory=True),
            )
        )


_MAKE_DEFAULT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*\?=\s*(.*?)\s*$")
_SHELL_READ = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-=?+])([^}]*)\}")
_JS_READ = re.compile(r"process\.env(?:\.([A-Za-z_$][\w$]*)|\[\s*[\"']([^\"']+)[\"']\s*\])")


def _text_reads(path: Path, rel: str, scan: Scan) -> None:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return
    lines = text.splitlines()
    if name == "Makefile" or name.endswith(".mk"):
        for number, line in enumerate(lines, 1):
            m = _MAKE_DEFAULT.match(line)
            if m:
                scan.reads.append(EnvRead(m[1], f"{rel}:{number}", "make ?=", m[2]))
    elif name.endswith(".sh") or (lines and lines[0].startswith("#!") and "sh" in lines[0]):
        for number, line in enumerate(lines, 1):
            if line.lstrip().startswith("#"):
                continue
            for m in _SHELL_READ.finditer(line):
                default = m[3] if m[2] in {"-", ":-", "=", ":="} else _NO_DEFAULT
                scan.reads.append(EnvRead(m[1], f"{rel}:{number}", "shell ${...}", default))
    elif name.endswith((".js", ".mjs", ".cjs")):
        for number, line in enumerate(lines, 1):
            for m in _JS_READ.finditer(line):
                scan.reads.append(EnvRead(m[1] or m[2], f"{rel}:{number}", "process.env"))


def scan_tree(root: Path) -> Scan:
    """Every environment variable read under ``root``."""
    scan = Scan()
    for path in _files(root):
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".py":
            _python_reads(path, rel, scan)
        else:
            _text_reads(path, rel, scan)
    _settings_classes(scan)
    return scan


# ------------------------------------------------------------------------ the README table


@dataclass(frozen=True)
class Row:
    name: str
    default: str
    meaning: str
    line: int


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row; a ``|`` inside backticks is text."""
    cells, current, in_code = [], "", False
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            current += body[i : i + 2]
            i += 2
            continue
        if c == "`":
            in_code = not in_code
        if c == "|" and not in_code:
            cells.append(current.strip())
            current = ""
        else:
            current += c
        i += 1
    cells.append(current.strip())
    return cells


def read_table(readme: str) -> tuple[dict[str, Row], list[str]]:
    """The rows of every table in the README's configuration section."""
    problems: list[str] = []
    lines = readme.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == SECTION)
    except StopIteration:
        return {}, [f"README.md has no section {SECTION!r} listing the environment variables"]
    rows: dict[str, Row] = {}
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if line.startswith("## "):
            break
        if not line.lstrip().startswith("|"):
            continue
        cells = _cells(line)
        if cells[0] == "variable" or set(cells[0]) <= set("-: "):
            continue
        number = index + 1
        m = re.fullmatch(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[0])
        if m is None or len(cells) != 3:
            problems.append(
                f"README.md:{number}: a configuration row must be | `NAME` | default | meaning |"
                f" with exactly one variable; got {line.strip()!r}"
            )
            continue
        if m[1] in rows:
            problems.append(
                f"README.md:{number}: {m[1]} is listed twice (also line {rows[m[1]].line})"
            )
        if not cells[1] or not cells[2]:
            problems.append(f"README.md:{number}: {m[1]} needs a default and a meaning")
        rows[m[1]] = Row(m[1], cells[1], cells[2], number)
    if not rows and not problems:
        problems.append(f"README.md: the section {SECTION!r} has no table of variables")
    return rows, problems


# ------------------------------------------------------------------------------ comparing


def _same(text: str, default: Any) -> bool:
    if isinstance(default, bool):
        words = {"true", "1", "yes", "on"} if default else {"false", "0", "no", "off"}
        return text.lower() in words
    if isinstance(default, int):
        return re.fullmatch(r"-?[0-9]+", text) is not None and int(text) == default
    if isinstance(default, float):
        try:
            return float(text) == default
        except ValueError:
            return False
    if isinstance(default, Path):
        return Path(text) == default
    return text == str(default)


def _default_problem(read: EnvRead, row: Row) -> str | None:
    if read.default is _NO_DEFAULT:
        return None
    if read.default is None:
        if row.default.lower().startswith("unset"):
            return None
        return (
            f"{read.name}: {read.where} has no default (None), so README.md:{row.line} should "
            f"start its default cell with 'unset' and say what happens then; it says "
            f"{row.default!r}"
        )
    m = re.match(r"`([^`]*)`", row.default)
    if m is None:
        return (
            f"{read.name}: {read.where} defaults to {read.default!r}, but README.md:{row.line} "
            f"does not start its default cell with that value in backticks: {row.default!r}"
        )
    if not _same(m[1], read.default):
        return (
            f"{read.name}: README.md:{row.line} says the default is `{m[1]}`, but "
            f"{read.where} ({read.how}) defaults to {read.default!r}"
        )
    return None


def compare(scan: Scan, rows: dict[str, Row]) -> list[str]:
    """Every disagreement between the code's reads and the README's rows, one line each."""
    problems = list(scan.problems)
    by_name: dict[str, list[EnvRead]] = {}
    for read in scan.reads:
        by_name.setdefault(read.name, []).append(read)
    for name in sorted(by_name):
        reads = by_name[name]
        row = rows.get(name)
        if row is None:
            where = ", ".join(f"{r.where} ({r.how})" for r in reads)
            problems.append(
                f"{name} is read by {where} but the README's configuration table "
                f"(README.md, section {SECTION!r}) does not list it: add a row "
                f"| `{name}` | default | meaning |"
            )
            continue
        for read in reads:
            problem = _default_problem(read, row)
            if problem:
                problems.append(problem)
    for name in sorted(set(rows) - set(by_name)):
        problems.append(
            f"{name} is listed in the README's configuration table (README.md:{rows[name].line})"
            " but no code reads it (searched: settings fields, os.environ / os.getenv in *.py,"
            " ?= in Makefiles, ${...} in shell scripts, process.env in JavaScript): remove the"
            " row or correct the name"
        )
    return problems


# ---------------------------------------------------------------------------------- tests


def test_the_readme_lists_every_environment_variable_the_code_reads() -> None:
    scan = scan_tree(REPO)
    rows, problems = read_table((REPO / "README.md").read_text(encoding="utf-8"))
    problems += compare(scan, rows)
    assert not problems, "\n".join(problems)
    # the scan does see the project's reads, of both kinds
    hows = {r.how for r in scan.reads}
    assert "settings field" in hows and hows & {"os.environ.get", "os.getenv"}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_every_way_of_reading_is_found_and_writing_is_not(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pkg/reads.py": """
                import os
                from os import environ, getenv

                KEY = "ZY_CONSTANT"
                a = os.environ["ZY_INDEX"]
                b = os.environ.get("ZY_GET", "7")
                c = os.getenv("ZY_GETENV")
                d = environ.get(KEY)
                e = getenv("ZY_BARE_GETENV", "x")
                f = "ZY_IN" in os.environ
                os.environ.setdefault("ZY_SETDEFAULT", "metrics")
                os.environ["ZY_WRITTEN"] = "1"
                env = {**os.environ, "ZY_CHILD": "1"}
                env.get("ZY_DICT_ONLY")
                g = os.environ.get(f"ZY_{a}")
            """,
            "Makefile": "PY ?= python3\nVENV := .venv\n",
            ".ci/script": (
                "#!/usr/bin/env bash\necho ${ZY_SHELL:-fallback} ${list[@]}\n# ${ZY_COMMENT:-x}\n"
            ),
            "tool/build.mjs": "const x = process.env.ZY_NODE ?? process.env['ZY_NODE2'];\n",
            "node_modules/dep/index.js": "process.env.ZY_VENDORED\n",
            ".venv/lib/x.py": "import os\nos.environ['ZY_VENV']\n",
        },
    )
    scan = scan_tree(root)
    found = {r.name: r for r in scan.reads}
    assert set(found) == {
        "ZY_CONSTANT", "ZY_INDEX", "ZY_GET", "ZY_GETENV", "ZY_BARE_GETENV", "ZY_IN",
        "ZY_SETDEFAULT", "PY", "ZY_SHELL", "ZY_NODE", "ZY_NODE2",
    }
    assert found["ZY_GET"].default == "7"
    assert found["ZY_GETENV"].default is None
    assert found["ZY_INDEX"].default is _NO_DEFAULT
    assert found["PY"].default == "python3"
    assert found["ZY_SHELL"].default == "fallback"
    assert found["ZY_INDEX"].where == "pkg/reads.py:6"
    assert len(scan.problems) == 1 and scan.problems[0].startswith("pkg/reads.py:16:")


def test_settings_fields_are_read_with_their_prefix_alias_and_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(
        tmp_path,
        {
            "zy_docs_probe/__init__.py": "",
            "zy_docs_probe/conf.py": """
                from pathlib import Path
                from pydantic import Field
                from pydantic_settings import BaseSettings, SettingsConfigDict

                class Conf(BaseSettings):
                    model_config = SettingsConfigDict(env_prefix="ZP_")
                    home: Path = Path(".zp")
                    port: int = 80
                    url: str | None = None
                    other: float = Field(1.5, validation_alias="ZP_RENAMED")
            """,
            "zy_docs_probe/more.py": """
                from zy_docs_probe import conf

                class More(conf.Conf):
                    extra: bool = True
            """,
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    scan = scan_tree(tmp_path)
    defaults = {r.name: r.default for r in scan.reads}
    assert defaults == {
        "ZP_HOME": Path(".zp"), "ZP_PORT": 80, "ZP_URL": None, "ZP_RENAMED": 1.5, "ZP_EXTRA": True
    }
    assert "zy_docs_probe/more.py More.extra" in {r.where for r in scan.reads}


README_SAMPLE = """\
# x

## Configuration (environment)

| variable | default | meaning |
|---|---|---|
| `ZP_HOME` | `.zp` | home |
| `ZP_PORT` | `8080` | a wrong default |
| `ZP_URL` | `http://x` | the code has no default |
| `ZP_GONE` | unset | no code reads it |
| `ZP_A`, `ZP_B` | `1` | two in one row |

## Next
| `ZP_LATER` | not in the section | |
"""


def test_each_disagreement_is_reported_naming_the_variable_and_place() -> None:
    rows, problems = read_table(README_SAMPLE)
    assert set(rows) == {"ZP_HOME", "ZP_PORT", "ZP_URL", "ZP_GONE"}
    assert len(problems) == 1 and "README.md:11" in problems[0]
    scan = Scan(
        [
            EnvRead("ZP_HOME", "conf.py Conf.home", "settings field", Path(".zp")),
            EnvRead("ZP_PORT", "conf.py Conf.port", "settings field", 80),
            EnvRead("ZP_URL", "conf.py Conf.url", "settings field", None),
            EnvRead("ZP_NEW", "pkg/new.py:3", "os.environ.get"),
        ]
    )
    report = compare(scan, rows)
    assert len(report) == 4, report
    missing, port, url, gone = report
    assert missing.startswith("ZP_NEW is read by pkg/new.py:3 (os.environ.get)")
    assert "does not list it" in missing
    assert port == (
        "ZP_PORT: README.md:8 says the default is `8080`, but conf.py Conf.port "
        "(settings field) defaults to 80"
    )
    assert url.startswith("ZP_URL: conf.py Conf.url has no default (None)")
    assert gone.startswith("ZP_GONE is listed in the README's configuration table (README.md:10)")
    assert "no code reads it" in gone


def test_defaults_compare_by_type() -> None:
    assert _same("2.0", 2.0) and _same("2", 2.0) and not _same("2.5", 2.0)
    assert _same("8000", 8000) and not _same("8000.0", 8000) and not _same("8001", 8000)
    assert _same("./.zhengyin", Path(".zhengyin")) and not _same(".zh", Path(".zhengyin"))
    assert _same("true", True) and not _same("true", False)
    assert _same("127.0.0.1", "127.0.0.1") and not _same("0.0.0.0", "127.0.0.1")
