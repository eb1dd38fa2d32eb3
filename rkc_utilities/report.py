# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The reports the centres are run by, as SQL views over the subledger and
the turnover: lists with totals and graphs, exportable like any list."""
import io
from decimal import Decimal

from sql import Literal, Null, Window
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Case, Coalesce, Greatest, Least, NullIf
from sql.functions import Round

from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.report import Report
from trytond.transaction import Transaction

from rkc.engine.dated import add_months
from rkc.payments.export import write_csv

from .common import today

TURNOVER_AMOUNTS = [
    'opening', 'charged', 'recalculated', 'subsidy', 'paid', 'penalty',
    'other', 'closing']
# Sums default to a Decimal zero; comparisons are with the integer 0
# because SQLite compares a Decimal parameter as text.
ZERO = Decimal(0)
MONEY = {'digits': (16, 2), 'readonly': True}
# Debt ageing: the buckets' field and how many whole months back they start
# (a bucket ends where the previous one starts).
AGEING_BUCKETS = [
    ('months_0_1', 0),
    ('months_1_3', 1),
    ('months_3_6', 3),
    ('months_6_12', 6),
    ('months_12_plus', 12),
    ]


def _money(expression):
    # Round: SQLite sums money as floats.
    return Round(Coalesce(expression, ZERO), 2)


class TurnoverSheet(ModelSQL, ModelView):
    "Turnover balance sheet (оборотно-сальдовая ведомость) per centre."
    __name__ = 'rkc.report.turnover_sheet'

    centre = fields.Many2One('rkc.centre', "Centre", readonly=True)
    service = fields.Many2One('rkc.service', "Service", readonly=True)
    period = fields.Date("Period", readonly=True)
    accounts = fields.Integer("Accounts", readonly=True)
    opening = fields.Numeric("Opening", **MONEY)
    charged = fields.Numeric("Charged", **MONEY)
    recalculated = fields.Numeric("Recalculated", **MONEY)
    subsidy = fields.Numeric("Subsidy", **MONEY)
    paid = fields.Numeric("Paid", **MONEY)
    penalty = fields.Numeric("Penalty", **MONEY)
    other = fields.Numeric("Other", **MONEY)
    closing = fields.Numeric("Closing", **MONEY)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('period', 'DESC'), ('centre', 'ASC'), ('service', 'ASC'),
            ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Turnover = pool.get('rkc.turnover')
        turnover = Turnover.__table__()
        amounts = [
            _money(Sum(getattr(turnover, f))).as_(f)
            for f in TURNOVER_AMOUNTS]
        return turnover.select(
            Min(turnover.id).as_('id'),
            turnover.centre, turnover.service, turnover.period,
            Count(turnover.account).as_('accounts'),
            *amounts,
            group_by=[turnover.centre, turnover.service, turnover.period])


class TurnoverSheetByAccount(Report):
    """The turnover balance sheet by account and service of the centres
    and periods of the selected sheet rows, as a CSV file for a
    spreadsheet. Written by SQL, not the ORM: a centre of 50,000 accounts
    has 250,000 rows, and Tryton's browse of that many records is
    quadratic."""
    __name__ = 'rkc.report.turnover_sheet.accounts'

    HEADER = ['Период', 'Центр', 'Лицевой счёт', 'Плательщик', 'Услуга',
        'Сальдо на начало', 'Начислено', 'Перерасчёт', 'Субсидия',
        'Оплачено', 'Пени', 'Прочее', 'Сальдо на конец']

    @classmethod
    def _execute(cls, records, header, data, action):
        stream = io.StringIO()
        write_csv(stream, cls.rows({(r.centre.id, r.period)
                    for r in records}), header=cls.HEADER)
        # With the byte-order mark a spreadsheet reads the file as UTF-8.
        return 'csv', stream.getvalue().encode('utf-8-sig')

    @staticmethod
    def rows(centre_periods):
        "The sheet's rows of the (centre, period) pairs, in one query."
        pool = Pool()
        turnover, account, party, service, centre = (
            pool.get(name).__table__() for name in (
                'rkc.turnover', 'rkc.account', 'party.party', 'rkc.service',
                'rkc.centre'))
        where = Literal(False)
        for centre_id, period in centre_periods:
            where |= (turnover.centre == centre_id) \
                & (turnover.period == period)
        cursor = Transaction().connection.cursor()
        cursor.execute(*turnover.join(
                account, condition=account.id == turnover.account).join(
                party, 'LEFT', condition=party.id == account.payer).join(
                service, condition=service.id == turnover.service).join(
                centre, condition=centre.id == turnover.centre).select(
                turnover.period, centre.name, account.number, party.name,
                service.name,
                *(_money(getattr(turnover, f)) for f in TURNOVER_AMOUNTS),
                where=where,
                order_by=[turnover.period, centre.name, account.number,
                    service.sequence, service.id]))
        for period, *names, amounts in (
                (r[0], *r[1:5], r[5:]) for r in cursor):
            yield [str(period)[:7], *names] + [
                _decimal_comma(a) for a in amounts]


def _decimal_comma(value):
    "An amount as a Russian spreadsheet reads it: 1234,50."
    return f'{Decimal(str(value)):.2f}'.replace('.', ',')


class Collection(ModelSQL, ModelView):
    "Charges against payments, by centre, service and month."
    __name__ = 'rkc.report.collection'

    centre = fields.Many2One('rkc.centre', "Centre", readonly=True)
    service = fields.Many2One('rkc.service', "Service", readonly=True)
    period = fields.Date("Period", readonly=True)
    charged = fields.Numeric(
        "Charged", help="Charges and recalculations.", **MONEY)
    paid = fields.Numeric("Paid", **MONEY)
    rate = fields.Numeric(
        "Collection Rate, %", digits=(16, 1), readonly=True,
        help="Paid as a share of charged.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('period', 'DESC'), ('centre', 'ASC'), ('service', 'ASC'),
            ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        line = Line.__table__()
        charged = Sum(Case(
                (line.kind.in_(['charge', 'recalculation']), line.amount),
                else_=ZERO))
        # Payments credit the account: negative in the subledger.
        paid = -Sum(Case((line.kind == 'payment', line.amount), else_=ZERO))
        return line.select(
            Min(line.id).as_('id'),
            line.centre, line.service, line.period,
            _money(charged).as_('charged'),
            _money(paid).as_('paid'),
            Round(paid * 100 / NullIf(charged, 0), 1).as_('rate'),
            group_by=[line.centre, line.service, line.period])


class MeterCoverage(ModelSQL, ModelView):
    "How the charges were measured: by meter, averaged or by norm."
    __name__ = 'rkc.report.meter_coverage'

    centre = fields.Many2One('rkc.centre', "Centre", readonly=True)
    service = fields.Many2One('rkc.service', "Service", readonly=True)
    period = fields.Date("Period", readonly=True)
    lines = fields.Integer("Charges", readonly=True)
    metered = fields.Integer("By Meter", readonly=True)
    average = fields.Integer("By Average", readonly=True)
    norm = fields.Integer("By Norm", readonly=True)
    metered_share = fields.Numeric(
        "Billed by Meter, %", digits=(16, 1), readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('period', 'DESC'), ('centre', 'ASC'), ('service', 'ASC'),
            ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        line = Line.__table__()

        def count(method):
            return Sum(Case((line.method == method, 1), else_=0))
        metered = count('metered')
        return line.select(
            Min(line.id).as_('id'),
            line.centre, line.service, line.period,
            Count(line.id).as_('lines'),
            metered.as_('metered'),
            count('average').as_('average'),
            count('norm').as_('norm'),
            Round(metered * Decimal(100) / Count(line.id), 1).as_(
                'metered_share'),
            where=(line.kind == 'charge')
            & line.method.in_(['metered', 'average', 'norm']),
            group_by=[line.centre, line.service, line.period])


class DebtAgeingContext(ModelView):
    __name__ = 'rkc.report.debt_ageing.context'

    date = fields.Date("Date", required=True,
        help="The subledger is aged as it stood at the end of this day.")

    @staticmethod
    def default_date():
        return today()


class DebtAgeing(ModelSQL, ModelView):
    """Debt by age per centre: an account's debt is made of its latest
    debits, the older ones having been paid first."""
    __name__ = 'rkc.report.debt_ageing'

    centre = fields.Many2One('rkc.centre', "Centre", readonly=True)
    debtors = fields.Integer("Debtors", readonly=True)
    months_0_1 = fields.Numeric("Up to 1 Month", **MONEY)
    months_1_3 = fields.Numeric("1 to 3 Months", **MONEY)
    months_3_6 = fields.Numeric("3 to 6 Months", **MONEY)
    months_6_12 = fields.Numeric("6 to 12 Months", **MONEY)
    months_12_plus = fields.Numeric("Over 12 Months", **MONEY)
    debt = fields.Numeric("Debt", **MONEY)
    advances = fields.Numeric(
        "Advances", help="Paid ahead (credit balances).", **MONEY)
    balance = fields.Numeric(
        "Balance", help="Debt less advances: the subledger balance.",
        **MONEY)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('centre', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Line = pool.get('rkc.ledger.line')
        Account = pool.get('rkc.account')
        line = Line.__table__()
        account = Account.__table__()
        date = Transaction().context.get('date') or today()
        month = date.replace(day=1)
        upto = line.date <= date

        balances = line.select(
            line.account, Sum(line.amount).as_('balance'),
            where=upto, group_by=[line.account])
        debits = line.select(
            line.account, line.period,
            Sum(line.amount).as_('debit'),
            where=upto & (line.amount > 0),
            group_by=[line.account, line.period])
        # Debits newer than a month's: the debt they explain first.
        window = Window([debits.account], order_by=[debits.period.desc])
        newer = debits.select(
            debits.account, debits.period, debits.debit,
            (Sum(debits.debit, window=window) - debits.debit).as_('newer'))
        aged = newer.join(balances,
            condition=balances.account == newer.account).select(
            newer.account, newer.period,
            Greatest(Least(newer.debit, balances.balance - newer.newer),
                0).as_('debt'),
            where=balances.balance > 0)

        def bucket(start, end):
            # The first bucket also takes debits of periods ahead.
            condition = (aged.period <= add_months(month, -start)
                if start else Literal(True))
            if end is not None:
                condition &= aged.period > add_months(month, -end)
            return _money(Sum(Case((condition, aged.debt), else_=ZERO)))
        ends = [start for _, start in AGEING_BUCKETS[1:]] + [None]
        buckets = [
            bucket(start, end).as_(name)
            for (name, start), end in zip(AGEING_BUCKETS, ends, strict=True)]
        by_centre = aged.join(account,
            condition=account.id == aged.account).select(
            account.centre, *buckets,
            _money(Sum(aged.debt)).as_('debt'),
            group_by=[account.centre])
        totals = balances.join(account,
            condition=account.id == balances.account).select(
            account.centre,
            Sum(Case((balances.balance > 0, 1), else_=0)).as_('debtors'),
            _money(Sum(Case((balances.balance < 0, -balances.balance),
                        else_=ZERO))).as_('advances'),
            _money(Sum(balances.balance)).as_('balance'),
            group_by=[account.centre])
        return totals.join(by_centre, 'LEFT',
            condition=by_centre.centre == totals.centre).select(
            totals.centre.as_('id'), totals.centre.as_('centre'),
            totals.debtors,
            *[_money(getattr(by_centre, name)).as_(name)
                for name, _ in AGEING_BUCKETS],
            _money(by_centre.debt).as_('debt'),
            totals.advances, totals.balance,
            where=totals.centre != Null)

