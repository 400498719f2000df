"""The business calendar of the time limits: mainland China's statutory holidays and the
weekend days worked in their place (调休), from the ``holidays`` library, plus local days
off (``ANYUAN_EXTRA_HOLIDAYS``: ISO dates) and extra working days
(``ANYUAN_EXTRA_WORKDAYS``).

A limit of *n* working days from a moment ends at the same clock time on the *n*-th
working day after the moment's day (local time): a case filed on Friday 17:00 with one
working day is due on Monday 17:00; filed on 30 September, after the National Day week.
"""

import datetime as dt
from functools import lru_cache

import holidays
from django.conf import settings
from django.utils import timezone


@lru_cache(maxsize=64)
def _official(year: int):
    return holidays.China(years=year)


def _dates(values) -> frozenset:
    return frozenset(dt.date.fromisoformat(str(d)) for d in values)


def is_working_day(day: dt.date) -> bool:
    if day in _dates(settings.ANYUAN_EXTRA_WORKDAYS):
        return True
    if day in _dates(settings.ANYUAN_EXTRA_HOLIDAYS):
        return False
    return _official(day.year).is_working_day(day)


def holiday_name(day: dt.date) -> str:
    return _official(day.year).get(day, "")


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """The moment ``days`` working days after ``start`` (aware; kept in local time)."""
    local = timezone.localtime(start)
    day = local.date()
    left = days
    while left > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return local.replace(year=day.year, month=day.month, day=day.day)


def working_days_between(start: dt.datetime, end: dt.datetime) -> int:
    """Working days after ``start``'s day up to and including ``end``'s day."""
    a, b = timezone.localtime(start).date(), timezone.localtime(end).date()
    n = 0
    while a < b:
        a += dt.timedelta(days=1)
        n += is_working_day(a)
    return n
