"""Keeps good copies of the devnet's state: a crash of anvil loses seconds, not everything.

anvil rewrites ``state.json`` in place every second, so a kill during a dump leaves it
truncated. The keeper, a small process ``zhengyin devnet up`` starts beside anvil (detached,
standard library only), watches that file; each time its content changes and the whole of it
parses as an anvil state, it is copied into ``backups/`` (write to a temporary file, fsync,
rename, fsync the directory), so a copy is either complete or absent. It keeps the newest
:data:`KEEP_NEWEST` copies and, older than those, the newest copy at least
:data:`OLDER_AGES` seconds older than the newest (one a minute or more older, one ten
minutes or more). When its anvil exits, it copies the final dump (a clean stop writes one)
and exits too.

``python -m devnet.keeper DEVNET_DIR ANVIL_PID``
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.2
KEEP_NEWEST = 3
OLDER_AGES = (60.0, 600.0)
BACKUP_DIR = "backups"
_PREFIX, _SUFFIX = "state-", ".json"


def alive(pid: int) -> bool:
    """Is ``pid`` a live (not zombie) process?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (OSError, IndexError):
        return True


def is_anvil(pid: int) -> bool:
    """Is ``pid`` a live anvil process (not another program that got its pid)?"""
    if not alive(pid):
        return False
    try:
        return b"anvil" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def parse_state(data: bytes) -> dict[str, object]:
    """An anvil state dump, whole; ``ValueError`` if it is not one (truncated, damaged)."""
    raw = json.loads(data)
    if not isinstance(raw, dict) or "accounts" not in raw or "block" not in raw:
        raise ValueError("not an anvil state (no accounts or block)")
    return raw


def backups(directory: Path) -> list[Path]:
    """The kept copies, newest first."""
    found = [
        p for p in (directory / BACKUP_DIR).glob(f"{_PREFIX}*{_SUFFIX}") if _stamp(p) is not None
    ]
    return sorted(found, key=lambda p: _stamp(p) or 0, reverse=True)


def backup_age(path: Path, now: float | None = None) -> float:
    """Seconds since the copy was taken."""
    return ((now if now is not None else time.time()) * 1000 - (_stamp(path) or 0)) / 1000


def _stamp(path: Path) -> int | None:
    text = path.name[len(_PREFIX) : -len(_SUFFIX)]
    return int(text) if text.isdigit() else None


def write_durably(path: Path, data: bytes) -> None:
    """``data`` at ``path`` all or nothing: a temporary file, fsync, rename, fsync the
    directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def prune(directory: Path) -> None:
    """Keep the newest copies and, older than those, one of each age in OLDER_AGES."""
    kept = backups(directory)
    if not kept:
        return
    newest = _stamp(kept[0]) or 0
    keep = set(kept[:KEEP_NEWEST])
    for age in OLDER_AGES:
        older = [p for p in kept if newest - (_stamp(p) or 0) >= age * 1000]
        if older:
            keep.add(older[0])
    for path in kept:
        if path not in keep:
            path.unlink(missing_ok=True)


class Keeper:
    """Copies each new, complete dump of ``<directory>/state.json``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.state_file = directory / "state.json"
        self._seen: bytes | None = None
        existing = backups(directory)
        if existing:
            try:
                self._seen = hashlib.sha256(existing[0].read_bytes()).digest()
            except OSError:
                pass

    def check(self) -> Path | None:
        """Copy the state file if it changed and is whole; the copy's path, or None."""
        try:
            data = self.state_file.read_bytes()
        except OSError:
            return None
        digest = hashlib.sha256(data).digest()
        if digest == self._seen:
            return None
        try:
            parse_state(data)
        except (ValueError, UnicodeDecodeError):
            return None  # being rewritten, or left truncated: wait for a whole one
        self._seen = digest
        target = self.directory / BACKUP_DIR / f"{_PREFIX}{int(time.time() * 1000)}{_SUFFIX}"
        while target.exists():  # two copies within a millisecond
            target = target.with_name(f"{_PREFIX}{(_stamp(target) or 0) + 1}{_SUFFIX}")
        write_durably(target, data)
        prune(self.directory)
        return target

    def run(self, anvil_pid: int) -> None:
        while is_anvil(anvil_pid):
            self.check()
            time.sleep(POLL_SECONDS)
        self.check()  # the final dump of a clean stop


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python -m devnet.keeper DEVNET_DIR ANVIL_PID", file=sys.stderr)
        return 2
    Keeper(Path(argv[0])).run(int(argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
