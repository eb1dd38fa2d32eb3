"""The demo town: centres, buildings, premises, personal accounts, owners,
meters and readings as plain data, generated one building at a time.

Everything follows from the seed and ``today``; memory stays that of one
building however many accounts are asked for, so a loader can write each
building in its own transaction.
"""
import datetime as dt
import math
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal

from rkc.engine.account_number import account_number
from rkc.engine.money import round_places

from . import names
from .meters import USAGE_EMPTY, USAGE_PER_RESIDENT, FleetLayout, MeterFactory
from .people import (
    Organisation,
    Ownership,
    PeopleFactory,
    Person,
    city_phone,
    organisations,
)
from .reference import reference_data

ACCOUNTS_PER_CENTRE = 50_000
SERVICES = ('cold_water', 'hot_water', 'wastewater', 'heating', 'electricity')
NON_RESIDENTIAL_SERVICES = (
    'cold_water', 'wastewater', 'heating', 'electricity')
_FIAS_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, 'https://fias.nalog.ru/')
# Building eras: (weight, years, floors, entrances, apartments per floor,
# weights of 1-, 2-, 3- and 4-room flats, share of buildings where an act
# says meters cannot be installed, share with a building heat meter).
_ERAS = (
    (8, (1955, 1959), (2, 3, 4), (1, 4), (2, 3), (10, 35, 40, 15), 0.35,
        0.6),
    (25, (1960, 1969), (4, 5, 5, 5), (2, 6), (3, 4), (30, 40, 30, 0), 0.08,
        0.8),
    (37, (1970, 1989), (5, 9, 9, 12), (2, 6), (4,), (25, 40, 30, 5), 0,
        0.9),
    (30, (1990, 2022), (9, 10, 12, 14, 16, 17), (1, 4), (4, 5, 6),
        (35, 35, 25, 5), 0, 0.95),
    )
_ERA_WEIGHTS = tuple(era[0] for era in _ERAS)
# Total area of a flat in tenths of m² by rooms.
_AREA_BY_ROOMS = {1: (280, 420), 2: (400, 620), 3: (550, 850),
    4: (720, 1100)}
_LIVING_SHARE = (0.55, 0.70)
# Weights of 0..5 registered residents by rooms.
_RESIDENTS_BY_ROOMS = {
    1: (8, 50, 35, 7, 0, 0),
    2: (6, 25, 40, 22, 7, 0),
    3: (5, 12, 30, 30, 18, 5),
    4: (4, 8, 20, 30, 25, 13),
    }
_COMMON_SHARE = (150, 250)  # of the premises' area, in thousandths
_COURTS_PER_DISTRICT = 3


@dataclass(slots=True)
class Region:
    name: str
    city: str
    code: str
    heating_mode: str  # 'season' or 'even', one choice for the region


@dataclass(slots=True)
class Centre:
    code: int  # the first two digits of its accounts' numbers
    name: str
    district: str
    address: str
    phone: str
    opening_hours: str
    cash_desks: tuple


@dataclass(slots=True)
class ResidentPeriod:
    valid_from: dt.date
    valid_to: dt.date | None
    count: int


@dataclass(slots=True)
class Account:
    number: str
    centre_code: int
    opened_on: dt.date
    payer: Person | Organisation
    organisation: bool
    owners: tuple  # of Ownership
    services: tuple  # service codes
    sms_consent: bool
    email_consent: bool
    call_consent: bool


@dataclass(slots=True)
class Premise:
    number: str
    kind: str  # 'apartment' or 'non_residential'
    floor: int
    entrance: int | None
    rooms: int | None
    total_area: Decimal
    living_area: Decimal | None
    meter_installable: bool
    no_meter_act: str | None
    residents: tuple  # of ResidentPeriod
    account: Account
    meters: tuple  # of Meter


@dataclass(slots=True)
class Building:
    index: int
    centre_code: int
    region: str
    city: str
    street: str
    house: str
    block: str | None
    postcode: str
    fias_guid: str
    category: str
    year_built: int
    floors: int
    entrances: int
    apartments_per_floor: int
    total_area: Decimal
    common_area: Decimal
    heating_mode: str
    heat_meter: bool
    court_district: str
    meter_installable: bool
    no_meter_act: str | None
    premises: tuple

    @property
    def address(self):
        return full_address(self.street, self.house, self.block)


def full_address(street, house, block=None):
    "The postal address in the town of a house on a street."
    block = f', корп. {block}' if block else ''
    return f'{names.REGION}, г. {names.CITY}, {street}, д. {house}{block}'


def residents_on(residents, date):
    "The number of residents registered on a date."
    for period in residents:
        if period.valid_from <= date and (
                period.valid_to is None or date <= period.valid_to):
            return period.count
    return 0


def centre_count(accounts):
    "About one centre per 50,000 accounts, and at least two."
    return max(2, round(accounts / ACCOUNTS_PER_CENTRE))


class Town:
    """A demo town of ``accounts`` personal accounts. ``buildings()``
    yields its buildings one by one, each with its premises, accounts,
    owners, meters and ``months`` months of readings before ``today``.
    Meter i of the town sits at the Modbus address ``layout.address(i)``.
    """

    def __init__(self, accounts=2000, *, seed=1, months=7, today=None,
            layout=None):
        if accounts < 1:
            raise ValueError(f'accounts must be at least 1: {accounts}')
        if centre_count(accounts) > len(names.DISTRICTS):
            raise ValueError(
                f'at most {len(names.DISTRICTS)} centres: {accounts} '
                'accounts are too many')
        self.accounts = accounts
        self.seed = seed
        self.months = months
        self.today = today or dt.date.today()
        self.layout = layout or FleetLayout()
        # Fail on bad parameters now rather than at the first building.
        MeterFactory(self.layout, self.today, months, seed)
        self.centre_total = centre_count(accounts)
        rng = self.random('town')
        self.region = Region(
            names.REGION, names.CITY, names.REGION_CODE,
            reference_data()['heating_mode'])
        self.centres = tuple(self._centre(rng, code)
            for code in range(1, self.centre_total + 1))
        self.organisations = organisations(
            rng, max(3, accounts // 800), names.STREETS)

    def random(self, name):
        "A random generator of its own for each part of the town."
        return random.Random(f'{self.seed}:{name}')

    def streets(self, centre_index):
        "The streets of a centre's district."
        return names.STREETS[centre_index::self.centre_total]

    def _centre(self, rng, code):
        district = names.DISTRICTS[code - 1][0]
        kind, street = rng.choice(self.streets(code - 1))
        return Centre(
            code=code, name=f'РКЦ {district}', district=district,
            address=full_address(f'{kind} {street}', rng.randint(1, 40)),
            phone=city_phone(rng),
            opening_hours=rng.choice(names.OPENING_HOURS),
            cash_desks=tuple(f'Окно {n}' for n in range(
                    1, rng.randint(2, 6) + 1)))

    def buildings(self):
        "Generate the buildings in order; each call starts afresh."
        return _Builder(self).buildings()


class _Builder:
    "The running state of one pass over the town."

    def __init__(self, town):
        self.town = town
        self.people = PeopleFactory(town.today)
        self.meters = MeterFactory(
            town.layout, town.today, town.months, town.seed)
        self.made = 0  # accounts so far
        self.sequences = [0] * len(town.centres)
        self.centre_buildings = [0] * len(town.centres)
        self.houses = {}  # street -> (number, block, blocks)

    def buildings(self):
        index = 0
        while self.made < self.town.accounts:
            yield self.building(self.town.random(index), index)
            index += 1

    def building(self, rng, index):
        town = self.town
        centre_index = min(len(town.centres) - 1,
            self.made * len(town.centres) // town.accounts)
        centre = town.centres[centre_index]
        streets = town.streets(centre_index)
        position = self.centre_buildings[centre_index]
        self.centre_buildings[centre_index] += 1
        street_index = position % len(streets)
        kind, street_name = streets[street_index]
        street = f'{kind} {street_name}'
        house, block = self.house(rng, street)

        (_, years, floor_choices, entrance_range, per_floor_choices,
            room_weights, no_meter_share, heat_meter_share) = rng.choices(
            _ERAS, weights=_ERA_WEIGHTS)[0]
        year_built = rng.randint(*years)
        floors = rng.choice(floor_choices)
        entrances = rng.randint(*entrance_range)
        per_floor = rng.choice(per_floor_choices)
        shops = (rng.randint(1, 3) if floors >= 5 and rng.random() < 0.18
            else 0)
        remaining = town.accounts - self.made
        if floors * entrances * per_floor + shops > remaining:
            # The last building: as many flats as accounts are left.
            shops = 0
            entrances = math.ceil(remaining / (floors * per_floor))
        built_on = dt.date(year_built, 12, 1)
        meter_installable = rng.random() >= no_meter_share
        no_meter_act = None
        if not meter_installable:
            act_date = dt.date(rng.randint(2013, 2020), rng.randint(1, 12),
                rng.randint(1, 28))
            no_meter_act = f'№ {rng.randint(1, 400)} от {act_date:%d.%m.%Y}'

        premises = []
        layout = [self.flat_plan(rng, room_weights)
            for _ in range(per_floor)]
        number = 0
        for entrance in range(1, entrances + 1):
            for floor in range(1, floors + 1):
                for rooms, total, living in layout:
                    if len(premises) == remaining:
                        break
                    number += 1
                    premises.append(self.apartment(
                            rng, centre, str(number), floor, entrance,
                            rooms, total, living, meter_installable,
                            no_meter_act, built_on))
        for shop in range(1, shops + 1):
            premises.append(self.shop(
                    rng, centre, f'{shop}Н', meter_installable,
                    no_meter_act, built_on))
        self.made += len(premises)

        total_area = sum(p.total_area for p in premises)
        district_genitive = names.DISTRICTS[centre.code - 1][1]
        court = (centre_index * _COURTS_PER_DISTRICT
            + street_index % _COURTS_PER_DISTRICT + 1)
        return Building(
            index=index, centre_code=centre.code, region=names.REGION,
            city=names.CITY, street=street, house=house, block=block,
            postcode=str(names.POSTCODE_BASE + centre_index * 10
                + street_index % 10),
            fias_guid=str(uuid.uuid5(
                    _FIAS_NAMESPACE, full_address(street, house, block))),
            category='apartment', year_built=year_built, floors=floors,
            entrances=entrances, apartments_per_floor=per_floor,
            total_area=total_area,
            common_area=round_places(total_area * Decimal(
                    rng.randint(*_COMMON_SHARE)).scaleb(-3), 2),
            heating_mode=town.region.heating_mode,
            heat_meter=rng.random() < heat_meter_share,
            court_district=(f'Судебный участок № {court} '
                f'{district_genitive} района'),
            meter_installable=meter_installable, no_meter_act=no_meter_act,
            premises=tuple(premises))

    def house(self, rng, street):
        "The next house number on a street, and a block (корпус) if any."
        number, block, blocks = self.houses.get(street, (0, 0, 0))
        if block and block < blocks:
            block += 1
        else:
            number += rng.choice((1, 2, 2))
            blocks = rng.choice((2, 3)) if rng.random() < 0.1 else 0
            block = 1 if blocks else 0
        self.houses[street] = (number, block, blocks)
        return str(number), str(block) if block else None

    @staticmethod
    def flat_plan(rng, room_weights):
        "(rooms, total area, living area) of a flat of the standard floor."
        rooms = rng.choices((1, 2, 3, 4), weights=room_weights)[0]
        total = rng.randint(*_AREA_BY_ROOMS[rooms])
        living = round(total * rng.uniform(*_LIVING_SHARE))
        return rooms, Decimal(total).scaleb(-1), Decimal(living).scaleb(-1)

    def account(self, centre, opened_on, payer, owners, services, rng):
        index = centre.code - 1
        self.sequences[index] += 1
        person = isinstance(payer, Person)
        phone = person and payer.phone is not None
        return Account(
            number=account_number(centre.code, self.sequences[index]),
            centre_code=centre.code, opened_on=opened_on, payer=payer,
            organisation=not person, owners=owners, services=services,
            sms_consent=phone and rng.random() < 0.7,
            email_consent=(person and payer.email is not None
                and rng.random() < 0.6),
            call_consent=phone and rng.random() < 0.5)

    def opened_on(self, rng, built_on):
        start = max(built_on + dt.timedelta(days=30), dt.date(2008, 1, 1))
        end = self.town.today - dt.timedelta(days=30)
        return start + dt.timedelta(
            days=rng.randint(0, max((end - start).days, 0)))

    def residents(self, rng, rooms, opened_on):
        count = rng.choices(range(6), weights=_RESIDENTS_BY_ROOMS[rooms])[0]
        changed_on = self.town.today - dt.timedelta(
            days=rng.randint(15, 365))
        if rng.random() < 0.12 and changed_on > opened_on:
            new_count = count + rng.choice((-1, 1, 1)) if count else 1
            return (
                ResidentPeriod(
                    opened_on, changed_on - dt.timedelta(days=1), count),
                ResidentPeriod(changed_on, None, new_count))
        return (ResidentPeriod(opened_on, None, count),)

    def apartment(self, rng, centre, number, floor, entrance, rooms, total,
            living, meter_installable, no_meter_act, built_on):
        opened_on = self.opened_on(rng, built_on)
        owners = self.people.owners(rng)
        residents = self.residents(rng, rooms, opened_on)
        meters = []
        if meter_installable and rng.random() < 0.9:
            # Older buildings often have two water risers, so two sets
            # of meters, each measuring its part of the flat's use.
            two_sets = rng.random() < (
                0.12 if built_on.year < 1975 else 0.03)
            for service in ('cold_water', 'hot_water'):
                for part in (0.6, 0.4) if two_sets else (1,):
                    meters.append(self.meters.meter(
                            rng, service, ('total',), built_on,
                            _household_usage(
                                rng, service, residents, part)))
        if rng.random() < 0.96:
            zones = ('day', 'night') if rng.random() < 1 / 3 \
                else ('total',)
            meters.append(self.meters.meter(
                    rng, 'electricity', zones, built_on,
                    _household_usage(rng, 'electricity', residents, 1)))
        return Premise(
            number=number, kind='apartment', floor=floor, entrance=entrance,
            rooms=rooms, total_area=total, living_area=living,
            meter_installable=meter_installable, no_meter_act=no_meter_act,
            residents=residents,
            account=self.account(
                centre, opened_on, owners[0].party, owners, SERVICES, rng),
            meters=tuple(meters))

    def shop(self, rng, centre, number, meter_installable, no_meter_act,
            built_on):
        owner = rng.choice(self.town.organisations)
        opened_on = self.opened_on(rng, built_on)
        meters = []
        if meter_installable:
            water = rng.randint(5_000, 30_000)  # litres a month
            meters.append(self.meters.meter(
                    rng, 'cold_water', ('total',), built_on,
                    lambda date: water))
        power = rng.randint(500, 3000)  # kWh a month
        meters.append(self.meters.meter(
                rng, 'electricity', ('total',), built_on,
                lambda date: power))
        return Premise(
            number=number, kind='non_residential', floor=1, entrance=None,
            rooms=None, total_area=Decimal(rng.randint(450, 2500)).scaleb(
                -1),
            living_area=None, meter_installable=meter_installable,
            no_meter_act=no_meter_act, residents=(),
            account=self.account(
                centre, opened_on, owner, (Ownership(owner, '1'),),
                NON_RESIDENTIAL_SERVICES, rng),
            meters=tuple(meters))


def _household_usage(rng, service, residents, part):
    """What a household uses a month on a date, in the meter's resolution;
    ``part`` is the share of the flat one meter of a set measures."""
    per_resident = rng.randint(*USAGE_PER_RESIDENT[service]) * part
    empty = rng.randint(*USAGE_EMPTY[service]) * part

    def usage(date):
        count = residents_on(residents, date)
        return per_resident * count if count else empty
    return usage

