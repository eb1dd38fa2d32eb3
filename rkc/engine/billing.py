"""The monthly charge of one personal account (rules.md §1), over plain
data.

The billing run builds the input dataclasses below with set-based SQL (one
query per table for a chunk of accounts) and calls :func:`bill_account`
for each account. Dated reference data (tariffs, norms) are
:class:`~rkc.engine.dated.DatedTable` objects shared by every account that
uses them. Input date ranges give inclusive first and last days (None:
open-ended), as the registers store them.

A month is cut into parts wherever an input changes inside it (account
opened or closed, service started or ended, residents, tariff or norm
changed); each part is one line: monthly quantity × days / days in the
month (a measured volume is shared by days instead), rounded once.
"""
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from . import calendar, charges, missing_readings
from .errors import CalculationError
from .money import round_places
from .recalculation import estimate_correction

ZERO = charges.ZERO
ONE = charges.ONE

# Service methods.
METERED = 'metered'          # by meter, estimated under п.59–60
NORM = 'norm'                # residents × norm, no meter
WASTEWATER = 'wastewater'    # the volumes of its source services
HEATING = 'heating'          # by the building's heating mode
# Heating modes of a building.
HEATING_NORM, HEATING_SEASON, HEATING_EVEN = 'norm', 'season', 'even'


@dataclass(slots=True)
class Building:
    """Areas in m² and heating data: ``heating`` is ``'norm'`` (no building
    meter), ``'season'`` (``heat_gcal`` of this month's building meter) or
    ``'even'`` (``last_year_gcal`` spread over 12 months)."""
    total_area: Decimal
    common_area: Decimal
    heating: str
    heat_gcal: Decimal | None = None
    last_year_gcal: Decimal | None = None


@dataclass(slots=True)
class Residents:
    "``count`` people registered from ``first`` to ``last`` (inclusive)."
    count: int
    first: dt.date
    last: dt.date | None = None


@dataclass(slots=True)
class Account:
    """A personal account: ``closed`` is its last billed day;
    ``meter_installable`` is False when an act says no meter can be
    installed; ``owners`` is billed when nobody is registered."""
    id: int
    opened: dt.date
    closed: dt.date | None
    residential: bool
    area: Decimal | None
    meter_installable: bool
    building: Building
    residents: tuple = ()
    owners: int = 0


@dataclass(slots=True)
class Zone:
    """One register of a meter: ``previous`` is the last accepted reading,
    ``current`` this month's (None: none given), ``history`` the monthly
    volumes (oldest first) that averages use, ``estimated`` the volumes
    billed by estimate since ``previous``."""
    previous: Decimal
    current: Decimal | None = None
    history: tuple = ()
    estimated: tuple = ()


@dataclass(slots=True)
class Meter:
    "``state``: one of :data:`missing_readings.STATES`."
    state: str
    installed: dt.date
    zones: tuple
    digits: int | None = None


@dataclass(slots=True)
class Tariff:
    """Rates per zone (one for a single-rate tariff); a two-component hot
    water tariff adds the heat norm (Gcal/m³) and the heat rate."""
    rates: tuple
    heat_norm: Decimal | None = None
    heat_rate: Decimal | None = None


@dataclass(slots=True)
class Service:
    """A subscribed service: ``tariffs`` a DatedTable of :class:`Tariff`,
    ``norms`` a DatedTable of the monthly norm (m³ per person, or Gcal per
    m² for heating); ``raising`` whether the raising coefficient may
    apply; ``sources`` the services whose volumes wastewater takes."""
    code: str
    method: str
    tariffs: object
    first: dt.date
    last: dt.date | None = None
    norms: object = None
    raising: bool = True
    meter: Meter | None = None
    sources: tuple = ()
    volume_places: int = 3


@dataclass(slots=True)
class Line:
    """One subledger line: ``kind`` is ``'charge'`` or ``'recalculation'``;
    ``basis`` a code with its parameters, translated by the receipt."""
    service: str
    kind: str
    period: dt.date
    amount: Decimal
    volume: Decimal | None
    tariff: Decimal | None
    method: str
    excess: Decimal
    basis: dict


@dataclass(slots=True)
class ServiceError:
    service: str
    message: str


@dataclass(slots=True)
class Bill:
    "Lines to post, or the errors that stop this account."
    lines: list
    errors: list


class _Context:
    "What the services of one account share while it is billed."
    __slots__ = ('period', 'whole', 'account', 'coefficients', 'policies',
        'volumes')

    def __init__(self, period, account, coefficients, policies):
        self.period = period
        self.whole = calendar.period_range(period)
        self.account = account
        self.coefficients = coefficients
        self.policies = policies
        # service code → [exact charged volume, exact corrected volume]
        self.volumes = {}


def bill_account(period, account, services, coefficients=None,
        policies=None):
    """Charge lines of ``account`` for ``period`` (its first day). Any
    error stops the account: then no line is returned, only every
    service's error."""
    context = _Context(period, account,
        coefficients or charges.raising_coefficients(),
        policies or missing_readings.estimate_policies())
    lines, errors = [], []
    # Wastewater takes the volumes of the other services of this month.
    for service in sorted(services, key=lambda s: s.method == WASTEWATER):
        try:
            lines.extend(_bill_service(context, service))
        except CalculationError as error:
            errors.append(ServiceError(service.code, str(error)))
    return Bill([] if errors else lines, errors)


def _active(context, service):
    account = context.account
    first = max(account.opened, service.first)
    last = min(d for d in (account.closed, service.last) if d) if (
        account.closed or service.last) else None
    return calendar.clip(*context.whole, first, last)


def _bill_service(context, service):
    active = _active(context, service)
    if active is None:
        return []
    if service.method == HEATING:
        return _heating(context, service, active)
    if service.method == WASTEWATER:
        return _wastewater(context, service, active)
    if service.method == NORM:
        return _norm(context, service, active, _no_meter(context.account))
    if service.method == METERED:
        return _metered(context, service, active)
    raise CalculationError(f'unknown billing method "{service.method}"')


def _line(context, service, kind, amount, volume, tariff, method, excess,
        basis):
    return Line(service.code, kind, context.period, amount,
        None if volume is None else round_places(
            volume, service.volume_places),
        tariff, method, excess, basis)


def _price(volume, tariff, zone, coefficient):
    "Amount and excess of a volume; each tariff component rounded."
    if tariff.heat_rate is None:
        return charges.priced(volume, tariff.rates[zone], coefficient)
    charge = charges.two_component(volume, tariff.rates[zone],
        tariff.heat_norm, tariff.heat_rate, coefficient)
    return charge.amount, charge.excess


def _parts(start, stop, *tables):
    "``(start, stop)`` cut where any of the tables changes inside it."
    boundaries = [day for table in tables for day in table.changes()
        if start < day < stop]
    if not boundaries:
        return [(start, stop)]
    return calendar.split(start, stop, boundaries)


def _with_days(basis, start, stop, whole):
    if (start, stop) != whole:
        basis['from'] = start
        basis['days'] = (stop - start).days
    return basis


def _monthly(context, service, active, quantity_on, method, basis,
        coefficient_on=None, tables=(), zone=0):
    """Lines for a monthly quantity (``quantity_on(day)``) prorated over
    the parts of ``active``; returns the lines and the exact volume."""
    lines, total = [], ZERO
    whole = context.whole
    for start, stop in _parts(*active, service.tariffs, *tables):
        tariff = service.tariffs.on(start)
        quantity, params = quantity_on(start)
        volume = calendar.prorate(quantity, start, stop)
        coefficient = coefficient_on(start) if coefficient_on else ONE
        amount, excess = _price(volume, tariff, zone, coefficient)
        total += volume
        lines.append(_line(context, service, 'charge', amount, volume,
            tariff.rates[zone], method, excess,
            _with_days({**basis, **params}, start, stop, whole)))
    return lines, total


def _measured(context, service, active, volume, method, basis, zone=0):
    """Lines for a volume measured over ``active``, shared between tariff
    parts by days."""
    lines = []
    whole = context.whole
    parts = _parts(*active, service.tariffs)
    days = (active[1] - active[0]).days
    for start, stop in parts:
        tariff = service.tariffs.on(start)
        share = volume if len(parts) == 1 else (
            volume * (stop - start).days / days)
        amount, excess = _price(share, tariff, zone, ONE)
        lines.append(_line(context, service, 'charge', amount, share,
            tariff.rates[zone], method, excess,
            _with_days(dict(basis), start, stop, whole)))
    return lines


def _persons_on(account, day):
    persons = sum(r.count for r in account.residents
        if r.first <= day and (r.last is None or day <= r.last))
    return charges.billed_persons(persons, account.owners)


def _resident_changes(account):
    for residents in account.residents:
        yield residents.first
        if residents.last is not None:
            yield residents.last + calendar.ONE_DAY


class _Changes:
    "Extra boundaries shaped like a DatedTable for :func:`_parts`."
    __slots__ = ('_days',)

    def __init__(self, days):
        self._days = tuple(days)

    def changes(self):
        return self._days


def _norms(service):
    if service.norms is None:
        raise CalculationError(f'service "{service.code}" has no norm')
    return service.norms


def _norm(context, service, active, estimate):
    norms = _norms(service)
    account = context.account
    raised = estimate.raised and service.raising

    def quantity_on(day):
        persons = _persons_on(account, day)
        norm = norms.on(day)
        return persons * norm, {'persons': persons, 'norm': norm}

    lines, volume = _monthly(
        context, service, active, quantity_on, 'norm',
        {'code': 'norm', 'reason': estimate.reason},
        context.coefficients.on if raised else None,
        (norms, _Changes(_resident_changes(account))))
    context.volumes[service.code] = [volume, ZERO]
    return lines


def _no_meter(account):
    return missing_readings.Estimate(
        'norm', 'no_meter', raised=account.meter_installable)


def _age_months(installed, period):
    return (period.year - installed.year) * 12 + (
        period.month - installed.month)


def _metered(context, service, active):
    meter = service.meter
    account = context.account
    if meter is None:
        return _norm(context, service, active, _no_meter(account))
    zones = meter.zones
    estimate = missing_readings.choose(
        context.period, meter.state,
        all(z.current is not None for z in zones),
        min(len(z.history) for z in zones),
        _age_months(meter.installed, context.period),
        len(zones[0].estimated), account.residential,
        account.meter_installable, context.policies.on(context.period))
    if estimate.method == 'norm':
        return _norm(context, service, active, estimate)
    lines, charged, corrected = [], ZERO, ZERO
    for index, zone in enumerate(zones):
        if estimate.method == 'average':
            volume = charges.average_volume(zone.history[-estimate.months:])
            zone_lines, volume = _monthly(
                context, service, active, lambda day, v=volume: (v, {}),
                'average', {'code': 'average', 'months': estimate.months,
                    'reason': estimate.reason, 'zone': index}, zone=index)
            lines.extend(zone_lines)
            charged += volume
            continue
        volume = charges.metered_volume(
            zone.previous, zone.current, meter.digits)
        if zone.estimated:
            rate = service.tariffs.on(active[0]).rates[index]
            delta = estimate_correction(
                context.period, volume, zone.estimated, rate)
            lines.append(_line(context, service, 'recalculation',
                delta.amount, delta.volume, rate, 'metered', ZERO,
                delta.basis))
            corrected += delta.volume
            continue
        lines.extend(_measured(context, service, active, volume, 'metered',
            {'code': 'reading', 'previous': zone.previous,
                'current': zone.current}, index))
        charged += volume
    context.volumes[service.code] = [charged, corrected]
    return lines


def _wastewater(context, service, active):
    charged = corrected = ZERO
    for source in service.sources:
        volumes = context.volumes.get(source)
        if volumes is None:
            continue
        charged += volumes[0]
        corrected += volumes[1]
    lines = _measured(context, service, active, charged, 'wastewater',
        {'code': 'wastewater', 'sources': service.sources})
    if corrected:
        tariff = service.tariffs.on(active[0])
        amount, _ = _price(corrected, tariff, 0, ONE)
        lines.append(_line(context, service, 'recalculation', amount,
            corrected, tariff.rates[0], 'wastewater', ZERO,
            {'code': 'estimate_correction', 'sources': service.sources}))
    return lines


def _heating(context, service, active):
    account = context.account
    building = account.building
    if account.area is None:
        raise CalculationError('the premise has no area to bill heating on')
    if building.heating == HEATING_NORM:
        norms = _norms(service)
        area = charges.heated_area(
            account.area, building.common_area, building.total_area)
        return _monthly(context, service, active,
            lambda day: (area * norms.on(day), {}), 'heating_norm',
            {'code': 'heating_norm', 'area': area}, tables=(norms,))[0]
    share = charges.area_share(account.area, building.total_area)
    if building.heating == HEATING_SEASON:
        gcal, code = building.heat_gcal, 'heating_building_meter'
    elif building.heating == HEATING_EVEN:
        gcal, code = building.last_year_gcal, 'heating_even'
        gcal = None if gcal is None else gcal / 12
    else:
        raise CalculationError(f'unknown heating mode "{building.heating}"')
    if gcal is None:
        raise CalculationError(f'the building has no Gcal for {code}')
    return _monthly(context, service, active,
        lambda day: (gcal * share, {}), code, {'code': code})[0]
