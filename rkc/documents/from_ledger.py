"""Receipts from the database: :class:`~rkc.documents.receipt.Receipt`
objects for a list of accounts and a period, read with a fixed number of
set-based queries (one per table) whatever the number of accounts.

Which receipt shows a subledger line: a payment shows on the receipt of the
month it was received (its date); every other line on the receipt of the
month it belongs to (its period). Billing posts a month's charges after the
month has ended, so dating them by posting day would move October's charges
to November's receipt. The opening balance is every line shown on an
earlier receipt, so the total to pay is the balance of all lines shown up
to this receipt, and no line is ever on two receipts or on none.
"""
import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal

from sql import Null
from sql.aggregate import Max, Sum
from sql.conditionals import Case

from trytond.pool import Pool
from trytond.transaction import Transaction

from rkc.engine.dated import add_months
from rkc.engine.money import round_money
from rkc.engine.qr import Payee
from rkc.engine.regulations import default_regulations

from .receipt import Address, MeterReading, Receipt, ServiceLine

ZERO = Decimal(0)
# The reason of a recalculation as printed, by the code of its basis.
REASONS = {
    'estimate_correction': 'по показаниям после начисления по среднему',
    'temporary_absence': 'временное отсутствие',
    'interruption': 'перерывы в предоставлении услуги',
    'hot_water_temperature': 'температура горячей воды ниже нормы',
    'below_minimum_temperature': 'горячая вода ниже 40 °C',
    'corrected_reading': 'уточнение показаний после проверки',
    'tariff_change': 'изменение тарифа',
    'write_off': 'списание задолженности',
    'instalment': 'перенос долга в рассрочку',
    }
OTHER_REASON = 'перерасчёт'
# Lines that change what is owed for a service besides its charge.
ADJUSTMENTS = ('recalculation', 'write_off', 'instalment')


def _rows(query):
    cursor = Transaction().connection.cursor()
    cursor.execute(*query)
    return cursor.fetchall()


def _decimal(value):
    "SQLite returns floats for numerics."
    return None if value is None else Decimal(str(value))


def _money(value):
    return round_money(_decimal(value) or ZERO)


def _date(value):
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def reason(basis, kind='recalculation'):
    "The printed reason of an adjustment line from its basis (JSON)."
    code = kind
    if basis:
        try:
            code = json.loads(basis).get('code', kind)
        except (ValueError, AttributeError):
            pass
    return REASONS.get(code, OTHER_REASON)


def shown_in(line, start, end):
    "SQL condition: the line shows on the receipt of ``start``…``end``."
    return Case(
        (line.kind == 'payment',
            (line.date >= start) & (line.date <= end)),
        else_=line.period == start)


def shown_before(line, start):
    "SQL condition: the line showed on a receipt before ``start``."
    return Case(
        (line.kind == 'payment', line.date < start),
        else_=line.period < start)


def period_end(start):
    return add_months(start, 1) - dt.timedelta(days=1)


def accounts_of_buildings(building_ids, start):
    "Ids of the accounts of the buildings open at some time in the month."
    pool = Pool()
    Account = pool.get('rkc.account')
    Premise = pool.get('rkc.premise')
    account, premise = Account.__table__(), Premise.__table__()
    return [row[0] for row in _rows(account.join(
                premise, condition=account.premise == premise.id).select(
                account.id,
                where=premise.building.in_(list(building_ids))
                & (account.opened_on <= period_end(start))
                & ((account.closed_on == Null)
                    | (account.closed_on >= start)),
                order_by=[account.id]))]


def latest_billed_period(account_ids):
    "The first day of the latest month charged to any of the accounts."
    Line = Pool().get('rkc.ledger.line')
    line = Line.__table__()
    row, = _rows(line.select(Max(line.period),
            where=line.account.in_(list(account_ids))
            & (line.kind == 'charge')))
    return _date(row[0])


def receipts(account_ids, start, issue_date=None, regulations=None):
    """The receipts of the accounts for the month starting on ``start``,
    in delivery order."""
    if not account_ids:
        return []
    account_ids = list(account_ids)
    regulations = regulations or default_regulations()
    issue_date = issue_date or dt.date.today()
    end = period_end(start)
    heads = _heads(account_ids, end)
    lines = _lines(account_ids, start, end)
    openings = _openings(account_ids, start)
    readings = _readings({h['premise'] for h in heads.values()}, start, end)
    payees = _payees({h['company'] for h in heads.values()})
    codes = Pool().get('rkc.portal.link').codes(
        [h['number'] for h in heads.values()])
    result = []
    for account_id, head in heads.items():
        movements = lines.get(account_id, _Movements())
        result.append(Receipt(
                account_number=head['number'],
                **_names(head['payer'], head['organisation']),
                address=head['address'], area=head['area'],
                residents=head['residents'], period=start,
                payee=payees[head['company']],
                lines=movements.service_lines(),
                issue_date=issue_date,
                due_date=regulations.due_date(start),
                opening_balance=openings.get(account_id, ZERO),
                paid=-movements.payments, penalties=movements.penalties,
                readings=tuple(readings.get(head['premise'], ())),
                instalment=movements.instalment,
                portal_code=codes.get(head['number'], '')))
    return sorted(result, key=lambda r: (
            r.address.delivery_key, r.account_number))


def addressees(building_ids, date):
    """(payee, payer, address, account number) of the buildings' accounts
    open in the month of ``date``, in delivery order."""
    start = date.replace(day=1)
    account_ids = accounts_of_buildings(building_ids, start)
    if not account_ids:
        return []
    heads = _heads(account_ids, period_end(start))
    payees = _payees({h['company'] for h in heads.values()})
    return [(payees[h['company']].name, h['payer'], h['address'],
            h['number'])
        for h in sorted(heads.values(), key=lambda h: (
                h['address'].delivery_key, h['number']))]


def _names(name, organisation):
    "The payer's name split as the QR code wants it."
    if organisation:
        return {'last_name': name, 'first_name': '', 'middle_name': ''}
    parts = name.split()
    return {'last_name': parts[0] if parts else '',
        'first_name': parts[1] if len(parts) > 1 else '',
        'middle_name': ' '.join(parts[2:])}


def _heads(account_ids, end):
    "Payer, address, area, residents and company of each account."
    pool = Pool()
    Account = pool.get('rkc.account')
    Premise = pool.get('rkc.premise')
    Building = pool.get('rkc.building')
    Centre = pool.get('rkc.centre')
    Party = pool.get('party.party')
    Residents = pool.get('rkc.premise.residents')
    account, premise, building, centre, party = (Account.__table__(),
        Premise.__table__(), Building.__table__(), Centre.__table__(),
        Party.__table__())
    heads = {}
    for (id_, number, payer, organisation, premise_id, flat, area, city,
            street, house, block, company) in _rows(account.join(
                premise, condition=account.premise == premise.id).join(
                building, condition=premise.building == building.id).join(
                centre, condition=account.centre == centre.id).join(
                party, condition=account.payer == party.id).select(
                account.id, account.number, party.name,
                account.organisation, premise.id, premise.number,
                premise.total_area, building.city, building.street,
                building.house, building.block, centre.company,
                where=account.id.in_(account_ids))):
        heads[id_] = {
            'number': number, 'payer': payer or '',
            'organisation': bool(organisation), 'premise': premise_id,
            'area': _decimal(area),
            'address': Address(city, street,
                f'{house} к. {block}' if block else house, flat),
            'company': company, 'residents': 0}
    residents = Residents.__table__()
    counts = {premise_id: count for premise_id, count in _rows(
            residents.select(residents.premise, residents.count,
                where=residents.premise.in_(
                    list({h['premise'] for h in heads.values()}))
                & (residents.valid_from <= end)
                & ((residents.valid_to == Null)
                    | (residents.valid_to >= end))))}
    for head in heads.values():
        head['residents'] = counts.get(head['premise'], 0)
    return heads


def _payees(company_ids):
    pool = Pool()
    Company = pool.get('company.company')
    payees = {}
    for company in Company.browse(list(company_ids)):
        payees[company.id] = Payee(
            name=company.payee_name or company.party.name,
            inn=company.payee_inn or '', kpp=company.payee_kpp or '',
            account=company.settlement_account or '',
            bank_name=company.bank_name or '', bic=company.bank_bic or '',
            correspondent_account=company.correspondent_account or '')
    return payees


def _openings(account_ids, start):
    Line = Pool().get('rkc.ledger.line')
    line = Line.__table__()
    return {account: _money(amount) for account, amount in _rows(
            line.select(line.account, Sum(line.amount),
                where=line.account.in_(account_ids)
                & shown_before(line, start),
                group_by=[line.account]))}


class _Service:
    "What one service's lines add up to on one receipt."

    def __init__(self, name, unit):
        self.name, self.unit = name, unit
        # tariff → [volume, charged, excess, norm]
        self.charges = {}
        self.adjustment = ZERO
        self.reasons = []
        self.benefit = ZERO

    def lines(self):
        charges = self.charges or {ZERO: [ZERO, ZERO, ZERO, None]}
        rows = []
        for i, (tariff, (volume, charged, excess, norm)) in enumerate(
                charges.items()):
            last = i == len(charges) - 1
            # Adjustments and benefits go on the service's last row.
            rows.append(ServiceLine(
                    self.name, self.unit, volume, tariff, charged,
                    norm=norm, excess=excess,
                    recalculation=self.adjustment if last else ZERO,
                    recalculation_reason='; '.join(self.reasons)
                    if last else '',
                    benefit=self.benefit if last else ZERO))
        return rows


class _Movements:
    "The lines of one account shown on the receipt."

    def __init__(self):
        self.services = {}
        self.payments = ZERO
        self.penalties = ZERO
        self.instalment = ''

    def add(self, service, kind, amount, volume, tariff, excess, basis):
        if kind == 'payment':
            self.payments += amount
            return
        if kind == 'penalty':
            self.penalties += amount
            return
        if kind == 'subsidy':
            service.benefit -= amount
        elif kind in ADJUSTMENTS:
            service.adjustment += amount
            text = reason(basis, kind)
            if text not in service.reasons:
                service.reasons.append(text)
            if kind == 'instalment':
                self.instalment = ('Долг перенесён в рассрочку: '
                    f'{-amount:.2f} руб.'.replace('.', ','))
        else:
            tariff = tariff or ZERO
            row = service.charges.setdefault(tariff, [ZERO, ZERO, ZERO, None])
            row[0] += volume or ZERO
            row[1] += amount
            row[2] += excess or ZERO
            if basis:
                norm = json.loads(basis).get('norm')
                if norm is not None:
                    row[3] = Decimal(str(norm))

    def service_lines(self):
        return tuple(line for service in self.services.values()
            for line in service.lines())


def _lines(account_ids, start, end):
    "The lines shown on the receipt, by account and service."
    pool = Pool()
    Line = pool.get('rkc.ledger.line')
    Service = pool.get('rkc.service')
    line = Line.__table__()
    rows = _rows(line.select(
            line.account, line.service, line.kind, line.amount,
            line.volume, line.tariff, line.excess, line.basis,
            where=line.account.in_(account_ids) & shown_in(line, start, end),
            order_by=[line.account, line.service, line.period, line.part,
                line.id]))
    services = {s.id: s for s in Service.browse(list({r[1] for r in rows}))}
    order = sorted(services.values(),
        key=lambda s: (s.sequence is None, s.sequence, s.name))
    rank = {s.id: i for i, s in enumerate(order)}
    movements = defaultdict(_Movements)
    for (account_id, service_id, kind, amount, volume, tariff, excess,
            basis) in sorted(rows, key=lambda r: (r[0], rank[r[1]])):
        account = movements[account_id]
        service = account.services.get(service_id)
        if service is None and kind not in ('payment', 'penalty'):
            record = services[service_id]
            service = account.services[service_id] = _Service(
                record.name, record.unit)
        account.add(service, kind, _money(amount), _decimal(volume),
            _decimal(tariff), _decimal(excess), basis)
    return movements


def _readings(premise_ids, start, end):
    """Each meter's last valid reading before the month and last within
    it, by premise; zones of a multi-zone meter are rows of their own."""
    if not premise_ids:
        return {}
    pool = Pool()
    Meter = pool.get('rkc.meter')
    Reading = pool.get('rkc.meter.reading')
    Service = pool.get('rkc.service')
    meter = Meter.__table__()
    meters = {id_: (premise, serial, service, zones)
        for id_, premise, serial, service, zones in _rows(meter.select(
                meter.id, meter.premise, meter.serial, meter.service,
                meter.zones,
                where=meter.premise.in_(list(premise_ids))
                & (meter.state != 'removed'),
                order_by=[meter.premise, meter.service, meter.id]))}
    if not meters:
        return {}
    start_at = dt.datetime.combine(start, dt.time())
    end_at = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())

    def last(where):
        reading, latest = Reading.__table__(), Reading.__table__()
        found = latest.select(latest.meter, Max(latest.read_at).as_('at'),
            where=latest.meter.in_(list(meters)) & (latest.state == 'valid')
            & where(latest), group_by=[latest.meter])
        return {m: (_decimal(v1), _decimal(v2), _decimal(v3))
            for m, v1, v2, v3 in _rows(reading.join(found, condition=(
                        reading.meter == found.meter)
                    & (reading.read_at == found.at)).select(
                    reading.meter, reading.value, reading.value_t2,
                    reading.value_t3))}
    previous = last(lambda r: r.read_at < start_at)
    current = last(lambda r: (r.read_at >= start_at) & (r.read_at < end_at))
    names = {s.id: s.name for s in Service.browse(
            list({m[2] for m in meters.values()}))}
    result = defaultdict(list)
    for id_, (premise, serial, service, zones) in meters.items():
        if id_ not in previous or id_ not in current:
            continue
        for zone in range(zones):
            before, now = previous[id_][zone], current[id_][zone]
            if before is None or now is None:
                continue
            label = f'№ {serial}' + (f' T{zone + 1}' if zones > 1 else '')
            result[premise].append(
                MeterReading(label, names[service], before, now))
    return result
