"""Dates as China's administrative calendar has them: a certificate's dates are Beijing
dates (China Standard Time, UTC+8, no daylight saving), whatever the server's time zone.
Every "today" of the project comes from here (a server on UTC would otherwise accept a
certificate for up to eight hours after it expired)."""

from __future__ import annotations

import datetime as dt

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
"""China Standard Time."""


def today() -> dt.date:
    """Today's date in China."""
    return dt.datetime.now(CHINA).date()


def start_of(day: dt.date) -> int:
    """Unix time of 00:00 China Standard Time on ``day``."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=CHINA).timestamp())
