"""The demo-town generator: plain, deterministic, valid and streaming."""
import datetime as dt
import ipaddress
import json
import os
import re
import subprocess
import sys
import tracemalloc
import uuid
from collections import Counter
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rkc.demo import names
from rkc.demo.identifiers import (
    inn_is_valid,
    inn_with_check_digits,
    kpp,
    ogrn_is_valid,
    ogrn_with_check_digit,
)
from rkc.demo.meters import FleetLayout, reading_periods
from rkc.demo.people import Person, feminine_surname
from rkc.demo.reference import reference_data
from rkc.demo.town import SERVICES, Town, centre_count
from rkc.engine.account_number import account_number_is_valid
from rkc.engine.money import round_money

TODAY = dt.date(2026, 11, 26)
ACCOUNTS = 3000
MALE_NAMES = {entry[0]: entry for entry in names.MALE_NAMES}


@pytest.fixture(scope='module')
def town():
    return Town(ACCOUNTS, seed=7, today=TODAY,
        layout=FleetLayout(network='127.16.0.0/16', meters_per_gateway=40))


@pytest.fixture(scope='module')
def buildings(town):
    return list(town.buildings())


def premises_of(buildings):
    return [p for b in buildings for p in b.premises]


def meters_of(buildings):
    return [m for p in premises_of(buildings) for m in p.meters]


def people_of(buildings):
    return [o.party for p in premises_of(buildings)
        for o in p.account.owners if isinstance(o.party, Person)]


# Identifiers

def test_inn_known_values():
    assert inn_is_valid('7707083893')  # Sberbank
    assert inn_is_valid('500100732259')
    assert not inn_is_valid('7707083894')
    assert not inn_is_valid('500100732258')
    assert not inn_is_valid('77070838')
    assert not inn_is_valid(7707083893)
    assert inn_with_check_digits('770708389') == '7707083893'
    assert inn_with_check_digits('5001007322') == '500100732259'


def test_inn_body_length_refused():
    with pytest.raises(ValueError, match='an ИНН body is 9 or 10 digits'):
        inn_with_check_digits('12345678')


@given(st.from_regex(r'\d{9}|\d{10}', fullmatch=True))
def test_inn_with_check_digits_is_valid(body):
    inn = inn_with_check_digits(body)
    assert inn.startswith(body) and inn_is_valid(inn)


def test_ogrn_and_kpp():
    assert ogrn_is_valid('1027700132195')  # Sberbank
    assert not ogrn_is_valid('1027700132196')
    assert ogrn_with_check_digit('102770013219') == '1027700132195'
    assert kpp('7604') == '760401001'
    with pytest.raises(ValueError, match='a КПП is 9 digits'):
        kpp('76040')


@given(st.integers(1, 99), st.integers(1, 9_999_999),
    st.integers(0, 9), st.integers(1, 9))
def test_account_number_catches_one_wrong_digit(centre, sequence, position,
        change):
    from rkc.engine.account_number import account_number
    number = account_number(centre, sequence)
    assert account_number_is_valid(number)
    wrong = (number[:position] + str((int(number[position]) + change) % 10)
        + number[position + 1:])
    assert not account_number_is_valid(wrong)


# The town's contents

def test_exact_account_count_and_centres(town, buildings):
    premises = premises_of(buildings)
    assert len(premises) == ACCOUNTS
    assert len(town.centres) == 2 == centre_count(2000)
    assert centre_count(100_000) == 2 and centre_count(500_000) == 10
    assert [c.name for c in town.centres] == [
        'РКЦ Центральный', 'РКЦ Заречный']
    for centre in town.centres:
        assert 2 <= len(centre.cash_desks) <= 6
        assert centre.address.startswith(f'{names.REGION}, г. {names.CITY}')
        # The centre stands in its own district.
        assert any(f', {kind} {name}, д. ' in centre.address
            for kind, name in town.streets(centre.code - 1))
        assert re.fullmatch(r'\+7 \(4852\) \d\d-\d\d-\d\d', centre.phone)
    per_centre = Counter(b.centre_code for b in buildings
        for _ in b.premises)
    assert set(per_centre) == {1, 2}
    assert min(per_centre.values()) > ACCOUNTS / 3


def test_account_numbers_unique_valid_and_prefixed(buildings):
    numbers = [p.account.number for p in premises_of(buildings)]
    assert len(set(numbers)) == len(numbers)
    for building in buildings:
        for premise in building.premises:
            number = premise.account.number
            assert account_number_is_valid(number), number
            assert int(number[:2]) == building.centre_code \
                == premise.account.centre_code


def test_inn_kpp_ogrn_valid(town, buildings):
    organisations = {p.account.payer.inn: p.account.payer
        for p in premises_of(buildings) if p.account.organisation}
    assert organisations, 'no shop was generated'
    assert set(organisations) <= {o.inn for o in town.organisations}
    inns = [o.inn for o in town.organisations]
    assert len(set(inns)) == len(inns)
    for organisation in town.organisations:
        assert re.fullmatch(r'\d{10}', organisation.inn)
        assert inn_is_valid(organisation.inn)
        assert ogrn_is_valid(organisation.ogrn)
        assert organisation.kpp[:4] == organisation.inn[:4]
        assert re.fullmatch(r'(ООО|АО) «.+»', organisation.name)
    people_inns = [p.inn for p in people_of(buildings) if p.inn]
    assert len(people_inns) > len(people_of(buildings)) / 5
    assert len(set(people_inns)) == len(people_inns)
    assert all(len(inn) == 12 and inn_is_valid(inn) for inn in people_inns)


def test_shares_sum_to_one(buildings):
    sizes = Counter()
    for premise in premises_of(buildings):
        owners = premise.account.owners
        sizes[len(owners)] += 1
        assert sum(Fraction(o.share) for o in owners) == 1
        assert premise.account.payer is owners[0].party
    assert set(sizes) == {1, 2, 3}


def test_premises_are_plausible(buildings):
    kinds = Counter()
    for building in buildings:
        assert 1955 <= building.year_built <= 2022
        assert 2 <= building.floors <= 17
        assert building.total_area == sum(
            p.total_area for p in building.premises)
        share = building.common_area / building.total_area
        assert Decimal('0.149') < share < Decimal('0.251')
        numbers = [p.number for p in building.premises]
        assert len(set(numbers)) == len(numbers)
        for premise in building.premises:
            kinds[premise.kind] += 1
            assert premise.meter_installable == building.meter_installable
            assert (premise.no_meter_act is None) == premise.meter_installable
            if premise.kind == 'apartment':
                assert 1 <= premise.rooms <= 4
                assert 1 <= premise.floor <= building.floors
                assert Decimal(28) <= premise.total_area <= Decimal(110)
                assert premise.living_area < premise.total_area
                assert premise.living_area >= premise.total_area \
                    * Decimal('0.549')
                assert premise.account.services == SERVICES
                assert premise.residents[0].valid_from \
                    == premise.account.opened_on
            else:
                assert premise.floor == 1 and premise.living_area is None
                assert premise.account.organisation
                assert 'hot_water' not in premise.account.services
    assert kinds['non_residential'] >= 3
    acts = [b for b in buildings if not b.meter_installable]
    assert acts and len(acts) < len(buildings) / 4
    assert all(re.fullmatch(r'№ \d+ от \d\d\.\d\d\.20\d\d', b.no_meter_act)
        for b in acts)


def test_buildings_addresses(town, buildings):
    addresses = [b.address for b in buildings]
    assert len(set(addresses)) == len(addresses)
    streets = {f'{kind} {name}' for kind, name in names.STREETS}
    for building in buildings:
        assert building.street in streets
        assert building.fias_guid == str(uuid.uuid5(
                uuid.uuid5(uuid.NAMESPACE_URL, 'https://fias.nalog.ru/'),
                building.address))
        district = names.DISTRICTS[building.centre_code - 1][1]
        assert re.fullmatch(
            rf'Судебный участок № \d+ {district} района',
            building.court_district)
        assert building.heating_mode == town.region.heating_mode == 'season'
    assert any(b.block for b in buildings)
    heat_meters = sum(b.heat_meter for b in buildings)
    assert len(buildings) / 2 < heat_meters < len(buildings)


def test_names_agree_in_gender(buildings):
    people = people_of(buildings)
    genders = Counter(p.gender for p in people)
    assert genders['male'] > len(people) / 4
    assert genders['female'] > len(people) / 4
    feminine = {feminine_surname(s) for s in names.SURNAMES}
    for person in people:
        if person.gender == 'male':
            assert person.surname in names.SURNAMES
            assert person.first_name in MALE_NAMES
            assert person.patronymic.endswith('ич')
        else:
            assert person.surname in feminine
            assert person.first_name in names.FEMALE_NAMES
            assert person.patronymic.endswith('на')
        assert person.birth_date < TODAY
    assert feminine_surname('Иванов') == 'Иванова'
    assert feminine_surname('Соловьёв') == 'Соловьёва'
    assert feminine_surname('Ильин') == 'Ильина'
    assert feminine_surname('Успенский') == 'Успенская'
    assert feminine_surname('Высоцкий') == 'Высоцкая'
    assert feminine_surname('Черных') == 'Черных'


def test_children_take_the_husbands_name(buildings):
    families = [p.account.owners for p in premises_of(buildings)
        if [o.share for o in p.account.owners] == ['1/3'] * 3]
    assert families
    for husband, wife, child in (
            tuple(o.party for o in owners) for owners in families):
        assert (husband.gender, wife.gender) == ('male', 'female')
        assert wife.surname == feminine_surname(husband.surname)
        entry = MALE_NAMES[husband.first_name]
        assert child.patronymic == entry[1 if child.gender == 'male' else 2]
        assert child.birth_date.year > TODAY.year - 18


def test_contacts(buildings):
    people = people_of(buildings)
    emails = [p.email for p in people if p.email]
    assert len(people) / 5 < len(emails) < len(people) / 2
    for email in emails:
        assert re.fullmatch(r'[a-z.]+\d+@example\.(com|org|net)', email), \
            email
    for person in people:
        assert person.phone is None or re.fullmatch(
            r'\+7 9\d\d \d{3}-\d\d-\d\d', person.phone)
    accounts = [p.account for p in premises_of(buildings)]
    for account in accounts:
        assert not account.email_consent or account.payer.email
        assert not account.sms_consent or account.payer.phone
    assert any(a.email_consent for a in accounts)
    assert any(a.sms_consent for a in accounts)


def test_residents_history(buildings):
    changed = 0
    for premise in premises_of(buildings):
        periods = premise.residents
        if premise.kind == 'non_residential':
            assert periods == ()
            continue
        assert periods[-1].valid_to is None
        assert all(p.count >= 0 for p in periods)
        if len(periods) == 2:
            changed += 1
            first, second = periods
            assert first.valid_to + dt.timedelta(days=1) == second.valid_from
            assert second.valid_from > TODAY - dt.timedelta(days=366)
            assert first.count != second.count
    assert ACCOUNTS / 20 < changed < ACCOUNTS / 5


def test_meter_addresses_follow_the_fleet_rule(buildings):
    meters = meters_of(buildings)
    assert [m.index for m in meters] == list(range(len(meters)))
    for meter in meters:
        assert 1 <= meter.unit_id <= 247
        assert meter.host == str(
            ipaddress.IPv4Address('127.16.0.1') + meter.index // 40)
        assert meter.port == 15020
        assert meter.unit_id == 1 + meter.index % 40
    serials = [m.serial for m in meters]
    assert len(set(serials)) == len(serials)
    assert all(re.fullmatch(r'\d{8}', s) for s in serials)


def test_fleet_layout():
    layout = FleetLayout(network='127.1.0.0/16', port=15020,
        meters_per_gateway=247)
    assert layout.address(0) == ('127.1.0.1', 15020, 1)
    assert layout.address(246) == ('127.1.0.1', 15020, 247)
    assert layout.address(247) == ('127.1.0.2', 15020, 1)
    # Past 254 gateways the addresses carry into the third byte.
    assert layout.address(255 * 247) == ('127.1.1.0', 15020, 1)
    with pytest.raises(ValueError, match='meters_per_gateway must be 1..247'):
        FleetLayout(meters_per_gateway=248)
    with pytest.raises(ValueError, match='meters_per_gateway must be 1..247'):
        FleetLayout(meters_per_gateway=0)
    with pytest.raises(ValueError, match='port must be 1..65535: 70000'):
        FleetLayout(port=70000)
    with pytest.raises(ValueError, match='network: .* has host bits set'):
        FleetLayout(network='127.1.0.1/16')
    with pytest.raises(ValueError, match='network: '):
        FleetLayout(network='loopback')
    # A /30 has two host addresses: its own address and broadcast are not.
    small = FleetLayout(network='127.1.0.0/30', meters_per_gateway=1)
    assert small.address(1) == ('127.1.0.2', 15020, 1)
    with pytest.raises(ValueError, match='meter 2 needs gateway 3, beyond '
            'the 2 host addresses of 127.1.0.0/30'):
        small.address(2)


def test_fleet_of_500000_accounts_fits_its_network():
    "The default network holds the gateways of the largest town."
    layout = FleetLayout()
    # Up to three meters a flat and the common meters of the buildings.
    host, _, _ = layout.address(4 * 500_000)
    assert ipaddress.IPv4Address(host) in layout.hosts


def test_meters_per_premise(buildings):
    premises = premises_of(buildings)
    apartments = [p for p in premises if p.kind == 'apartment']
    with_water = [p for p in apartments
        if any(m.service == 'cold_water' for m in p.meters)]
    assert len(apartments) * 0.7 < len(with_water) < len(apartments)
    for premise in with_water:
        services = Counter(m.service for m in premise.meters)
        assert services['cold_water'] == services['hot_water']
    for premise in premises:
        if not premise.meter_installable:
            assert not any(m.service in ('cold_water', 'hot_water')
                for m in premise.meters)
    electricity = [m for m in meters_of(buildings)
        if m.service == 'electricity']
    two_zone = [m for m in electricity if m.zones == ('day', 'night')]
    assert 0.25 < len(two_zone) / len(electricity) < 0.4
    assert all(m.model in names.ELECTRICITY_METERS[2] for m in two_zone)


def test_meter_verification_and_failures(buildings):
    meters = meters_of(buildings)
    expired = [m for m in meters if m.verification_due < TODAY]
    failed = [m for m in meters if m.failed_on]
    assert 0.03 < len(expired) / len(meters) < 0.12
    assert 0.005 < len(failed) / len(meters) < 0.04
    for meter in meters:
        assert meter.verification_years == (
            16 if meter.service == 'electricity' else 6)
        assert meter.verified_on < meter.installed_on < TODAY
        if meter.failed_on:
            assert all(r.taken_on < meter.failed_on for r in meter.readings)


def test_reading_history(buildings):
    periods = reading_periods(TODAY, 7)
    assert periods[0] == (2026, 4) and periods[-1] == (2026, 10)
    missing = 0
    for meter in meters_of(buildings):
        assert (meter.integer_digits, meter.decimals) == (
            (6, 0) if meter.service == 'electricity' else (5, 3))
        previous = None
        for reading in meter.readings:
            assert (reading.taken_on.year, reading.taken_on.month) \
                in periods
            assert 15 <= reading.taken_on.day <= 25
            assert len(reading.values) == len(meter.zones)
            for value in reading.values:
                assert value.as_tuple().exponent == -meter.decimals
                assert 0 <= value < 10 ** meter.integer_digits
            if previous:
                assert reading.taken_on > previous.taken_on
                assert all(v >= p for v, p in zip(
                        reading.values, previous.values, strict=True))
            previous = reading
        months = {(r.taken_on.year, r.taken_on.month)
            for r in meter.readings}
        expected = {p for p in periods
            if dt.date(*p, 26) > meter.installed_on + dt.timedelta(days=11)
            and (not meter.failed_on or dt.date(*p, 14) < meter.failed_on)}
        if expected - months:
            missing += 1
    assert 0.1 < missing / len(meters_of(buildings)) < 0.3


def test_consumption_is_realistic(buildings):
    "Monthly use per resident within the ranges, across the town."
    per_resident = {'cold_water': [], 'hot_water': [], 'electricity': []}
    for premise in premises_of(buildings):
        if premise.kind != 'apartment' or len(premise.residents) != 1:
            continue
        residents = premise.residents[0].count
        services = Counter(m.service for m in premise.meters)
        for meter in premise.meters:
            if not residents or services[meter.service] > 1 \
                    or len(meter.readings) < 2:
                continue
            first, last = meter.readings[0], meter.readings[-1]
            days = (last.taken_on - first.taken_on).days
            used = sum(last.values) - sum(first.values)
            per_resident[meter.service].append(
                float(used) / days * 30.44 / residents)
    for service, (low, high) in {'cold_water': (3, 4), 'hot_water': (2, 3),
            'electricity': (100, 150)}.items():
        values = per_resident[service]
        mean = sum(values) / len(values)
        assert low < mean < high, (service, mean)
    night = [r.values[1] / sum(r.values) for m in meters_of(buildings)
        if m.zones == ('day', 'night') for r in m.readings[-1:]]
    assert 0.2 < sum(night) / len(night) < 0.4


# Determinism and streaming

def test_same_seed_same_town(buildings):
    again = Town(ACCOUNTS, seed=7, today=TODAY,
        layout=FleetLayout(network='127.16.0.0/16', meters_per_gateway=40))
    first = next(iter(again.buildings()))
    assert first == buildings[0]
    assert list(again.buildings())[-1] == buildings[-1]
    other = Town(ACCOUNTS, seed=8, today=TODAY,
        layout=FleetLayout(network='127.16.0.0/16', meters_per_gateway=40))
    assert next(iter(other.buildings())) != buildings[0]


def test_same_town_in_any_process():
    "No dependence on hash randomization or on the process."
    script = (
        'import datetime as dt, hashlib\n'
        'from rkc.demo.town import Town\n'
        'town = Town(500, seed=3, today=dt.date(2026, 11, 26))\n'
        'print(hashlib.sha256(repr(list(town.buildings())).encode())'
        '.hexdigest())\n')
    digests = {subprocess.run(
            [sys.executable, '-c', script], capture_output=True, text=True,
            check=True, env={**os.environ, 'PYTHONHASHSEED': seed}).stdout
        for seed in ('1', '2')}
    assert len(digests) == 1


def test_bad_parameters():
    with pytest.raises(ValueError, match='accounts must be at least 1: 0'):
        Town(0)
    with pytest.raises(ValueError, match='months must be at least 1: 0'):
        Town(10, months=0)
    with pytest.raises(ValueError,
            match='at most 12 centres: 700000 accounts are too many'):
        Town(700_000)


_GENERATE = """
import datetime as dt, json, resource, sys, time
from rkc.demo.town import Town
town = Town(int(sys.argv[1]), today=dt.date(2026, 11, 26))
start = time.perf_counter()
accounts = meters = 0
for building in town.buildings():
    accounts += len(building.premises)
    meters += sum(len(p.meters) for p in building.premises)
print(json.dumps({'accounts': accounts, 'meters': meters,
    'seconds': time.perf_counter() - start,
    'max_rss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _generate(accounts):
    "Generate a town in a fresh process: its counts, time and peak RSS."
    result = subprocess.run(
        [sys.executable, '-c', _GENERATE, str(accounts)],
        capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@pytest.mark.slow
def test_100000_accounts_in_bounded_memory():
    small, large = _generate(1000), _generate(100_000)
    print(f'\n{large["accounts"]:,} accounts, {large["meters"]:,} meters in '
        f'{large["seconds"]:.1f} s '
        f'({large["accounts"] / large["seconds"]:,.0f} accounts/s); '
        f'peak RSS {large["max_rss_kib"] / 1024:.1f} MiB, '
        f'{small["max_rss_kib"] / 1024:.1f} MiB for 1,000 accounts')
    assert large['accounts'] == 100_000
    # One building at a time: the process is no bigger than for a hamlet.
    assert large['max_rss_kib'] - small['max_rss_kib'] < 16 * 1024


@pytest.mark.slow
def test_tracemalloc_peak_is_one_building():
    town = Town(5000, today=TODAY)
    tracemalloc.start()
    try:
        largest = 0
        for building in town.buildings():
            largest = max(largest, len(building.premises))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f'\ntracemalloc peak {peak / 2**20:.1f} MiB for 5,000 accounts, '
        f'largest building {largest} premises')
    assert peak < 8 * 2**20


# Reference data

def _valid_on(rows, date):
    return [row for row in rows if row['valid_from'] <= date][-1]


def test_reference_data_tariffs_and_norms():
    data = reference_data()
    tariffs = {(t['service'], t['zones']): t['rates']
        for t in data['tariffs']}
    assert {service for service, _ in tariffs} == set(SERVICES)
    for rates in tariffs.values():
        dates = [r['valid_from'] for r in rates]
        assert dt.date(2026, 7, 1) in dates and dates == sorted(dates)
        assert rates[-1]['rate'] > rates[-2]['rate']
    norms = {(n['service'], n['kind']): n['values'][-1]['value']
        for n in data['norms']}
    assert norms[('cold_water', 'per_person')] == Decimal('4.85')
    assert norms[('hot_water', 'per_person')] == Decimal('3.6')
    assert norms[('heating', 'per_area')] == Decimal('0.0187')
    assert norms[('hot_water', 'heat_per_volume')] > 0
    table = data['electricity_norms']['per_resident']
    assert sorted(table) == [1, 2, 3, 4]
    for values in table.values():
        assert len(values) == 5 and list(values) == sorted(values,
            reverse=True)
    hot = _valid_on(tariffs[('hot_water', 1)], dt.date(2026, 1, 1))
    assert hot['rate'] == _valid_on(
        tariffs[('cold_water', 1)], dt.date(2026, 1, 1))['rate']
    assert hot['heat_rate'] == _valid_on(
        tariffs[('heating', 1)], dt.date(2026, 1, 1))['rate']
    assert 'rate_t2' in tariffs[('electricity', 2)][0]


def test_reference_data_reproduces_the_worked_examples():
    "rules.md §1 with the demo's tariffs of the first half of 2026."
    data = reference_data()
    on = dt.date(2026, 1, 1)
    tariff = {t['service']: _valid_on(t['rates'], on)['rate']
        for t in data['tariffs'] if t['zones'] == 1}
    norm = {n['service'] + '/' + n['kind']: n['values'][-1]['value']
        for n in data['norms']}
    assert round_money(
        3 * norm['cold_water/per_person'] * tariff['cold_water']) \
        == Decimal('761.55')
    assert round_money(Decimal('54.3') * norm['heating/per_area']
        * tariff['heating']) == Decimal('2894.32')
