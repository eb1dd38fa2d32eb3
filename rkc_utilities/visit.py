# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Visits to the front desk and their KPIs: how long a visitor is served
against the goal, and how many come against a centre's capacity."""
import datetime as dt

from sql import Cast, Literal
from sql.aggregate import Avg, Count, Min
from sql.conditionals import Case, NullIf
from sql.functions import DateTrunc, Extract, Round

from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

# The centres' service standard: a visitor is served within 15 minutes.
SERVICE_GOAL = dt.timedelta(minutes=15)

PURPOSES = [
    ('payment', "Payment"),
    ('reading', "Meter Reading"),
    ('receipt', "Receipt or Statement"),
    ('recalculation', "Recalculation"),
    ('subsidy', "Subsidy"),
    ('agreement', "Restructuring Agreement"),
    ('account', "Opening or Changing an Account"),
    ('complaint', "Complaint"),
    ('consultation', "Consultation"),
    ]


class Visit(Workflow, ModelSQL, ModelView):
    __name__ = 'rkc.visit'

    _readonly = {'readonly': Eval('state') == 'done'}

    operator = fields.Many2One(
        'res.user', "Operator", required=True, readonly=True)
    centre = fields.Many2One(
        'rkc.centre', "Centre", required=True, states=_readonly)
    account = fields.Many2One(
        'rkc.account', "Account", states=_readonly,
        help="The account the visitor came about, if any.")
    purposes = fields.MultiSelection(
        PURPOSES, "Purposes", states=_readonly)
    started_at = fields.DateTime("Started At", readonly=True)
    ended_at = fields.DateTime("Ended At", readonly=True)
    duration = fields.Function(
        fields.TimeDelta("Service Time"), 'get_duration')
    state = fields.Selection([
            ('waiting', "Waiting"),
            ('serving', "Serving"),
            ('done', "Done"),
            ], "State", required=True, readonly=True)

    del _readonly

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('started_at', 'DESC NULLS FIRST'), ('id', 'DESC')]
        cls._transitions |= {('waiting', 'serving'), ('serving', 'done')}
        cls._buttons.update({
                'start': {
                    'invisible': Eval('state') != 'waiting',
                    'depends': ['state'],
                    },
                'finish': {
                    'invisible': Eval('state') != 'serving',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'waiting'

    @staticmethod
    def default_operator():
        return Transaction().user

    @staticmethod
    def default_centre():
        pool = Pool()
        User = pool.get('res.user')
        centres = User(Transaction().user).rkc_centres
        if len(centres) == 1:
            return centres[0].id

    @fields.depends('account', '_parent_account.centre')
    def on_change_account(self):
        if self.account:
            self.centre = self.account.centre

    def get_duration(self, name):
        if self.started_at and self.ended_at:
            return self.ended_at - self.started_at

    def get_rec_name(self, name):
        return ' '.join(filter(None, [
                    self.centre.rec_name if self.centre else None,
                    str(self.started_at or ''),
                    self.account.number if self.account else None]))

    @classmethod
    @ModelView.button
    @Workflow.transition('serving')
    def start(cls, visits):
        cls.write(visits, {'started_at': dt.datetime.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def finish(cls, visits):
        cls.write(visits, {'ended_at': dt.datetime.now()})


class _VisitKPIMixin:
    "Finished visits by month and ``_group`` columns."
    __slots__ = ()
    _group = ()

    centre = fields.Many2One('rkc.centre', "Centre", readonly=True)
    month = fields.Date("Month", readonly=True)
    visits = fields.Integer("Visitors", readonly=True)
    average_minutes = fields.Numeric(
        "Average Service Time, min", digits=(16, 1), readonly=True)
    goal_minutes = fields.Numeric(
        "Goal, min", digits=(16, 1), readonly=True)
    within_goal = fields.Numeric(
        "Served within Goal, %", digits=(16, 1), readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('month', 'DESC'), ('centre', 'ASC'), ('id', 'ASC')]

    @classmethod
    def _kpi_query(cls, joins=lambda visit: visit, extra=lambda visits: []):
        """The query of the KPIs; ``joins`` adds tables to the visits,
        ``extra`` columns computed from the count of visits."""
        pool = Pool()
        Visit = pool.get('rkc.visit')
        table = Visit.__table__()
        # The month is computed below the grouping: PostgreSQL does not see
        # two DATE_TRUNC with their own parameters as one expression.
        visit = table.select(
            table.id, table.centre, table.operator,
            Cast(DateTrunc('month', table.started_at), 'DATE').as_('month'),
            Extract('EPOCH', table.ended_at - table.started_at).as_(
                'seconds'),
            where=table.state == 'done')
        visits = Count(visit.id)
        goal = SERVICE_GOAL.total_seconds()
        group = [getattr(visit, g) for g in cls._group] + [visit.month]
        return joins(visit).select(
            Min(visit.id).as_('id'),
            *[getattr(visit, g).as_(g) for g in cls._group],
            visit.month.as_('month'),
            visits.as_('visits'),
            Round(Avg(visit.seconds) / 60, 1).as_('average_minutes'),
            Literal(goal / 60).as_('goal_minutes'),
            Round(Avg(Case((visit.seconds <= goal, 100), else_=0)), 1).as_(
                'within_goal'),
            *extra(visits),
            group_by=group)


class VisitOperatorKPI(_VisitKPIMixin, ModelSQL, ModelView):
    "Service time per operator and month."
    __name__ = 'rkc.visit.kpi.operator'
    _group = ('centre', 'operator')

    operator = fields.Many2One('res.user', "Operator", readonly=True)

    @classmethod
    def table_query(cls):
        return cls._kpi_query()


class VisitCentreKPI(_VisitKPIMixin, ModelSQL, ModelView):
    "Service time and visitors per centre and month against its capacity."
    __name__ = 'rkc.visit.kpi.centre'
    _group = ('centre',)

    capacity = fields.Integer("Monthly Capacity", readonly=True)
    load = fields.Numeric(
        "Load, %", digits=(16, 1), readonly=True,
        help="Visitors of the month as a share of the centre's capacity.")

    @classmethod
    def table_query(cls):
        pool = Pool()
        Centre = pool.get('rkc.centre')
        centre = Centre.__table__()
        capacity = Min(centre.capacity)
        return cls._kpi_query(
            joins=lambda visit: visit.join(
                centre, condition=centre.id == visit.centre),
            extra=lambda visits: [
                capacity.as_('capacity'),
                Round(Cast(visits, 'NUMERIC') * 100
                    / NullIf(capacity, 0), 1).as_('load'),
                ])
