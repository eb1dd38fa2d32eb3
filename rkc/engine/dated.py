"""Dated reference data: values that take effect on known dates, and the
month arithmetic that due dates and schedules need."""
import bisect
import calendar
import datetime as dt

from .errors import CalculationError


class DatedTable:
    """Values by the date they take effect; each one holds until the next.

    ``what`` names the data in error messages ("key rate", …).
    """

    def __init__(self, entries, what):
        entries = sorted(entries, key=lambda entry: entry[0])
        if not entries:
            raise CalculationError(f'the {what} table is empty')
        self._dates = [day for day, _ in entries]
        if len(set(self._dates)) != len(self._dates):
            raise CalculationError(
                f'the {what} table has two values for the same date')
        self._values = [value for _, value in entries]
        self.what = what

    def on(self, day):
        "The value in force on ``day``."
        index = bisect.bisect_right(self._dates, day) - 1
        if index < 0:
            raise CalculationError(
                f'no {self.what} is known for {day.isoformat()}: the table '
                f'starts on {self._dates[0].isoformat()}')
        return self._values[index]

    def changes(self):
        "The dates on which a value takes effect."
        return tuple(self._dates)

    def values(self):
        return tuple(self._values)


def add_months(day, months):
    """The same day of the month ``months`` later (or earlier), clamped to
    the end of a shorter month: 31 January + 1 month = 28/29 February."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, days_in_month(year, month)))


def days_in_month(year, month):
    return calendar.monthrange(year, month)[1]

