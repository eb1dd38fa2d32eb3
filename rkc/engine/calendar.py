"""Billing periods and day ranges.

A period is represented by its first day. Day ranges are half-open
``(start, stop)``: ``stop`` is the first day no longer included, so that
the number of days is ``(stop - start).days`` and ranges chain without
gaps. Input data gives inclusive last days (as people write them);
:func:`clip` converts.
"""
import datetime as dt

from .dated import days_in_month

ONE_DAY = dt.timedelta(days=1)


def period_of(day):
    "The billing period (its first day) that contains a day."
    return day.replace(day=1)


def days_in_period(period):
    return days_in_month(period.year, period.month)


def next_period(period):
    if period.month == 12:
        return dt.date(period.year + 1, 1, 1)
    return dt.date(period.year, period.month + 1, 1)


def period_range(period):
    "The whole period as a half-open day range."
    return period, next_period(period)


def clip(start, stop, first=None, last=None):
    """The part of ``(start, stop)`` from an inclusive first day to an
    inclusive last day (None: unbounded), or None when nothing is left."""
    if first is not None and first > start:
        start = first
    if last is not None and last + ONE_DAY < stop:
        stop = last + ONE_DAY
    return (start, stop) if start < stop else None


def split(start, stop, boundaries):
    """Cut ``(start, stop)`` at every boundary day strictly inside it; the
    parts are returned in order."""
    cuts = sorted({b for b in boundaries if start < b < stop})
    if not cuts:
        return [(start, stop)]
    edges = [start, *cuts, stop]
    return list(zip(edges, edges[1:], strict=False))


def periods(first_day, last_day):
    "Each period touched by the inclusive days ``first_day..last_day``."
    period = period_of(first_day)
    while period <= last_day:
        yield period
        period = next_period(period)


def prorate(quantity, start, stop):
    """A monthly quantity for the days ``(start, stop)`` of one period:
    quantity × days / days in the month (multiplied first, so that
    nothing is rounded)."""
    return quantity * (stop - start).days / days_in_period(period_of(start))
