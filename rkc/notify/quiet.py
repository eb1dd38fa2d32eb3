"""Quiet hours: no SMS or call between, e.g., 21:00 and 09:00 local time;
a message due then waits for the end of the window."""
import datetime as dt


def quiet_until(local_now, start, end):
    """The local time the quiet window around ``local_now`` ends, or None
    when messages may go now. ``start`` > ``end`` is a window over
    midnight; equal or missing bounds: no quiet hours."""
    if start is None or end is None or start == end:
        return None
    now = local_now.time()
    day = local_now.date()
    if start < end:
        quiet = start <= now < end
    else:
        quiet = now >= start or now < end
        if now >= start:
            day += dt.timedelta(days=1)
    return dt.datetime.combine(day, end) if quiet else None


def utc_now():
    "Now as Tryton stores date-times: naive UTC."
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
