"""Individual meters of the demo town, their Modbus addresses and a monthly
history of readings."""
import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from decimal import Decimal

from . import names

MAX_UNIT_ID = 247  # the highest Modbus unit id on one gateway
MAX_PORT = 65535
# Verification intervals in years by service, as stated in meter passports.
VERIFICATION_YEARS = {'cold_water': 6, 'hot_water': 6, 'electricity': 16}
# Demo usage per resident a month in the meter's resolution (litres, kWh):
# a household keeps its own habit within these ranges.
USAGE_PER_RESIDENT = {
    'cold_water': (3000, 4000),
    'hot_water': (2000, 3000),
    'electricity': (100, 150),
    }
# What an empty premise still uses a month (a fridge, a dripping tap).
USAGE_EMPTY = {
    'cold_water': (0, 300),
    'hot_water': (0, 200),
    'electricity': (25, 40),
    }
_RESOLUTION = {'cold_water': (5, 3), 'hot_water': (5, 3),
    'electricity': (6, 0)}
_DAYS_PER_MONTH = 30.44
_NIGHT_SHARE = (0.27, 0.33)
# A bijection of serial numbers below 10**8 that looks random: the
# multiplier is prime to 10.
_SERIAL_MULTIPLIER = 48_271


@dataclass(slots=True)
class Reading:
    taken_on: dt.date
    values: tuple  # a Decimal per zone of the meter, in its order


@dataclass(slots=True)
class Meter:
    index: int  # position in the town's fleet, sets the Modbus address
    service: str
    model: str
    serial: str
    zones: tuple  # ('total',) or ('day', 'night')
    integer_digits: int
    decimals: int
    installed_on: dt.date
    verified_on: dt.date
    verification_years: int
    failed_on: dt.date | None
    host: str
    port: int
    unit_id: int
    readings: tuple

    @property
    def verification_due(self):
        "The day the verification expires."
        return add_years(self.verified_on, self.verification_years)


def add_years(date, years):
    try:
        return date.replace(year=date.year + years)
    except ValueError:  # 29 February
        return date.replace(year=date.year + years, day=28)


@dataclass(frozen=True)
class FleetLayout:
    """Where meters sit on the Modbus gateways: meter i is on gateway
    g = i // meters_per_gateway at unit 1 + i % meters_per_gateway, and
    gateway g answers at the (g + 1)-th address of ``network``, on ``port``.

    Each gateway has its own address on one port, as gateways on a fibre
    network do. The simulated fleet lives on loopback, where Linux answers
    the whole 127.0.0.0/8: a town of 500,000 accounts needs some 44,000
    gateways, which as ports of one address would cross the ports of other
    services and the kernel's range for outgoing connections."""
    network: str = '127.1.0.0/16'
    port: int = 15020
    meters_per_gateway: int = 32
    hosts: ipaddress.IPv4Network = field(
        init=False, repr=False, compare=False)

    def __post_init__(self):
        if not 1 <= self.meters_per_gateway <= MAX_UNIT_ID:
            raise ValueError(
                f'meters_per_gateway must be 1..{MAX_UNIT_ID}: '
                f'{self.meters_per_gateway}')
        if not 1 <= self.port <= MAX_PORT:
            raise ValueError(f'port must be 1..{MAX_PORT}: {self.port}')
        try:
            hosts = ipaddress.IPv4Network(self.network)
        except ValueError as error:
            raise ValueError(f'network: {error}') from None
        # Parsed once: each meter of a town asks for its address.
        object.__setattr__(self, 'hosts', hosts)

    def address(self, index):
        "The (host, port, unit id) of the index-th meter."
        gateway, slot = divmod(index, self.meters_per_gateway)
        # The network's own address and its broadcast name no gateway.
        usable = self.hosts.num_addresses - 2
        if gateway >= usable:
            raise ValueError(
                f'meter {index} needs gateway {gateway + 1}, beyond the '
                f'{max(usable, 0)} host addresses of {self.network}: use a '
                'wider network or more meters_per_gateway')
        return str(self.hosts[gateway + 1]), self.port, slot + 1


def reading_periods(today, months):
    "The (year, month) of the full months before today's, oldest first."
    periods = []
    year, month = today.year, today.month
    for _ in range(months):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        periods.append((year, month))
    return tuple(reversed(periods))


class MeterFactory:
    "Makes the meters of premises, numbering them through the town."

    def __init__(self, layout, today, months, seed):
        if months < 1:
            raise ValueError(f'months must be at least 1: {months}')
        self.layout = layout
        self.today = today
        self.periods = reading_periods(today, months)
        self.window_start = dt.date(*self.periods[0], 1)
        self.serial_offset = seed * 7_919
        self.count = 0

    def meter(self, rng, service, zones, built_on, usage):
        """A meter of a service installed after ``built_on``; ``usage`` maps
        a date to what the premise uses a month there, in the meter's
        resolution."""
        index = self.count
        self.count += 1
        host, port, unit_id = self.layout.address(index)
        years = VERIFICATION_YEARS[service]
        integer_digits, decimals = _RESOLUTION[service]
        if rng.random() < 0.07:  # the verification has expired
            verified_on = self.today - dt.timedelta(
                days=years * 365 + rng.randint(1, 300))
        else:
            verified_on = self.today - dt.timedelta(
                days=rng.randint(30, years * 365 - 30))
        verified_on = max(verified_on, built_on)
        # Meters come verified from the factory and are fitted later.
        installed_on = min(verified_on + dt.timedelta(days=rng.randint(
                    5, 90)), self.today - dt.timedelta(days=20))
        failed_on = None
        if rng.random() < 0.02:
            start = max(installed_on, self.window_start)
            failed_on = start + dt.timedelta(days=rng.randrange(
                    max((self.today - start).days - 10, 1)))
        if service == 'electricity':
            model = rng.choice(names.ELECTRICITY_METERS[len(zones)])
        else:
            model = rng.choice(names.WATER_METERS[service])
        serial = (index * _SERIAL_MULTIPLIER + self.serial_offset) % 10**8
        return Meter(
            index=index, service=service, model=model,
            serial=f'{serial:08d}', zones=zones,
            integer_digits=integer_digits, decimals=decimals,
            installed_on=installed_on, verified_on=verified_on,
            verification_years=years, failed_on=failed_on,
            host=host, port=port, unit_id=unit_id,
            readings=self._readings(
                rng, zones, decimals, installed_on, failed_on, usage))

    def _reading_dates(self, rng, installed_on, failed_on):
        # Readings are taken between the 15th and the 25th.
        dates = [dt.date(year, month, 15 + int(rng.random() * 11))
            for year, month in self.periods]
        dates = [d for d in dates if installed_on < d
            and (failed_on is None or d < failed_on)]
        if dates and rng.random() < 0.15:
            # The consumer did not report: the last months (billed by the
            # average) or a month in between.
            if rng.random() < 0.6:
                del dates[-rng.randint(1, min(3, len(dates))):]
            else:
                del dates[rng.randrange(len(dates))]
        return dates

    def _readings(self, rng, zones, decimals, installed_on, failed_on,
            usage):
        totals = [rng.randint(0, 2 * 10**decimals) for _ in zones]
        night_share = rng.uniform(*_NIGHT_SHARE)
        previous = installed_on
        readings = []
        for taken_on in self._reading_dates(rng, installed_on, failed_on):
            used = round(usage(taken_on) * (0.85 + 0.3 * rng.random())
                * (taken_on - previous).days / _DAYS_PER_MONTH)
            previous = taken_on
            if len(zones) == 2:
                night = round(used * night_share)
                totals[0] += used - night
                totals[1] += night
            else:
                totals[0] += used
            readings.append(Reading(taken_on, tuple(
                        Decimal(t).scaleb(-decimals) for t in totals)))
        return tuple(readings)

