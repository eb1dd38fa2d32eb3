# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"Billing periods: calendar months that are billed, then closed and locked."
import datetime as dt

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from rkc.engine.dated import add_months

from .exceptions import PeriodError

STATES = [
    ('open', "Open"),
    ('billed', "Billed"),
    ('closed', "Closed"),
    ]


class Period(Workflow, ModelSQL, ModelView):
    __name__ = 'rkc.period'

    name = fields.Char("Name", readonly=True, help="The month as YYYY-MM.")
    start_date = fields.Date(
        "Start Date", required=True,
        states={'readonly': Eval('state') != 'open'},
        help="The first day of the month.")
    end_date = fields.Function(fields.Date("End Date"),
        'on_change_with_end_date')
    company = fields.Many2One(
        'company.company', "Company", required=True,
        states={'readonly': Eval('state') != 'open'})
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        help="Closed periods are locked: nothing more is posted in them.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('start_date_unique', Unique(t, t.company, t.start_date),
                'rkc_utilities.msg_period_unique'),
            ]
        cls._order = [('start_date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('open', 'billed'), ('billed', 'open'), ('billed', 'closed')}
        cls._buttons.update({
                'close': {
                    'invisible': Eval('state') != 'billed',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'open'

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @fields.depends('start_date')
    def on_change_with_end_date(self, name=None):
        if self.start_date:
            return add_months(self.start_date, 1) - dt.timedelta(days=1)

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if values.get('start_date'):
            values['start_date'] = values['start_date'].replace(day=1)
            values['name'] = values['start_date'].strftime('%Y-%m')
        return values

    @classmethod
    def on_modification(cls, mode, periods, field_names=None):
        super().on_modification(mode, periods, field_names=field_names)
        # A month's lines go to a partition of its own from its opening.
        if mode == 'create' or (
                mode == 'write' and 'start_date' in field_names):
            Pool().get('rkc.ledger.line').open_months(
                [p.start_date for p in periods])

    @classmethod
    def get_or_create(cls, month):
        "The period of the month that contains ``month``."
        start = month.replace(day=1)
        company = Transaction().context.get('company')
        periods = cls.search([
                ('start_date', '=', start), ('company', '=', company)],
            limit=1)
        if periods:
            return periods[0]
        period, = cls.create([{'start_date': start, 'company': company}])
        return period

    @classmethod
    def current(cls, date=None):
        "The earliest period still open on or after ``date``'s month."
        date = date or dt.date.today()
        periods = cls.search([
                ('state', '!=', 'closed'),
                ('start_date', '>=', date.replace(day=1)),
                ], order=[('start_date', 'ASC')], limit=1)
        return periods[0] if periods else cls.get_or_create(date)

    def check_open(self):
        if self.state == 'closed':
            raise PeriodError(gettext(
                    'rkc_utilities.msg_period_closed', period=self.name))

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, periods):
        pool = Pool()
        Turnover = pool.get('rkc.turnover')
        for period in sorted(periods, key=lambda p: p.start_date):
            Turnover.materialize(period)
        # Once a month, statistics of the whole subledger for the reads
        # across its months.
        pool.get('rkc.ledger.line').refresh_statistics()

    @classmethod
    def check_modification(cls, mode, periods, values=None, external=False):
        super().check_modification(
            mode, periods, values=values, external=external)
        if mode == 'delete':
            for period in periods:
                if period.state != 'open':
                    raise PeriodError(gettext(
                            'rkc_utilities.msg_period_delete_billed',
                            period=period.name))
