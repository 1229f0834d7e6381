"""Certificate dates are Beijing dates whatever the server's time zone (review finding F2:
a server on UTC judged a certificate valid for up to eight hours after it expired)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from certs import clock
from tests.conftest import REPO_ROOT

BEIJING = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize("zone", ["UTC", "Etc/GMT+12", "Pacific/Kiritimati", "Asia/Shanghai"])
def test_today_is_the_date_in_china_in_any_server_time_zone(zone: str) -> None:
    program = "import time; from certs import clock; print(clock.today().isoformat())"
    for _ in range(3):  # a test run across midnight in China answers again
        before = dt.datetime.now(BEIJING).date()
        out = subprocess.run(
            [sys.executable, "-c", program], env={**os.environ, "TZ": zone}, cwd=REPO_ROOT,
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        if dt.datetime.now(BEIJING).date() == before:
            break
    assert out == before.isoformat()


def test_start_of_a_day_is_midnight_in_china() -> None:
    assert clock.start_of(dt.date(2026, 1, 1)) == int(
        dt.datetime(2025, 12, 31, 16, 0, tzinfo=dt.UTC).timestamp()
    )
