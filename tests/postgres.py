"""A throwaway PostgreSQL server for the storage tests (a real server, never a stand-in).

``ZHENGYIN_TEST_POSTGRES_URL`` points the tests at an existing server instead. Otherwise a
private cluster is made with ``initdb`` in a temporary directory (as the ``postgres`` user
when running as root, which PostgreSQL refuses to run as), listening on 127.0.0.1 on a free
port, and removed afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import free_port


def _bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise RuntimeError(
            "PostgreSQL is not installed: the storage tests need a real server "
            "(Debian package postgresql; `make setup` installs it when run as root)"
        )
    return Path(candidates[-1]).parent


@contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[str]:
    """Yield a SQLAlchemy URL of an empty database on a running server (``fsync=off`` unless
    ``durable``: what the tests need is the server's behaviour, not its durability)."""
    url = os.environ.get("ZHENGYIN_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    bindir = _bindir()
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    base = Path(tempfile.mkdtemp(prefix="zhengyin-pg-"))
    data = base / "data"
    if as_root:
        shutil.chown(base, "postgres", "postgres")
    port = free_port()
    try:
        subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "zhengyin",
             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True, timeout=120,
        )
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w",
             "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
                   + ("" if durable else " -c fsync=off"),
             "start"],
            check=True, capture_output=True, timeout=120,
        )
        deadline = time.monotonic() + 30
        while subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                             capture_output=True, check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the test PostgreSQL server did not come up")
            time.sleep(0.1)
        yield f"postgresql+psycopg://zhengyin@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True, check=False, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
