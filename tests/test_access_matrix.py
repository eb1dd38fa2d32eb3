"""Deny-by-default access on a demo town (PostgreSQL): every stored model
of the module has explicit access rows; each role reads and writes what
its table says and gets AccessError elsewhere, by real calls as a user of
that group; an operator sees only the accounts and data of their centre."""
import uuid

import pytest

from rkc import tryton_job

import town

pytestmark = pytest.mark.postgresql

MODULE = 'rkc_utilities'
ROLES = ('admin', 'operator', 'accountant', 'lawyer', 'social')
# Models whose default (no group) row may grant reading: the link that
# the record rules read for every user.
PUBLIC_READ = {'res.user-rkc.centre'}

# What each role may do: 'rw' read and write, 'r' read only, '' nothing.
# Columns in the order of ROLES.
MATRIX = {
    'rkc.centre': ('rw', 'r', 'r', 'r', 'r'),
    'rkc.building': ('rw', 'rw', 'r', 'r', 'r'),
    'rkc.premise': ('rw', 'rw', 'r', 'r', 'r'),
    'rkc.account': ('rw', 'rw', 'r', 'r', 'r'),
    'rkc.service': ('rw', 'r', 'rw', 'r', 'r'),
    'rkc.tariff': ('rw', 'r', 'rw', 'r', 'r'),
    'rkc.norm': ('rw', 'r', 'rw', 'r', 'r'),
    'rkc.meter': ('rw', 'rw', 'r', 'r', 'r'),
    'rkc.meter.reading': ('rw', 'rw', 'r', 'r', 'r'),
    'rkc.period': ('rw', 'r', 'rw', 'r', 'r'),
    'rkc.billing.run': ('rw', 'r', 'rw', 'r', 'r'),
    'rkc.ledger.line': ('r', 'r', 'r', 'r', 'r'),
    'rkc.ledger.posting': ('r', '', 'r', '', ''),
    'rkc.payment': ('rw', 'rw', 'rw', 'r', 'r'),
    'rkc.recalculation': ('rw', 'rw', 'rw', 'r', 'r'),
    'rkc.agreement': ('rw', 'rw', 'rw', 'r', 'r'),
    'rkc.legal.case': ('rw', 'r', 'r', 'rw', ''),
    'rkc.subsidy.application': ('rw', 'r', 'r', 'r', 'rw'),
    'rkc.visit': ('rw', 'rw', 'r', '', ''),
    }
# A field each key model is written with (its own value, so nothing
# changes but the call goes all the way to the database).
WRITTEN = {
    'rkc.centre': 'name',
    'rkc.building': 'house',
    'rkc.premise': 'number',
    'rkc.account': 'number',
    'rkc.service': 'name',
    'rkc.tariff': 'region',
    'rkc.norm': 'region',
    'rkc.meter': 'serial',
    'rkc.meter.reading': 'value',
    }
# Data of a centre and the paths from it to the centre (any of them), for
# the record rules of operators.
BY_CENTRE = {
    'rkc.building': ('centre',),
    'rkc.premise': ('building.centre',),
    'rkc.account': ('centre',),
    # Flat meters and the building's common meters.
    'rkc.meter': ('premise.building.centre', 'building.centre'),
    'rkc.meter.reading': (
        'meter.premise.building.centre', 'meter.building.centre'),
    'rkc.ledger.line': ('centre',),
    'rkc.turnover': ('centre',),
    'rkc.payment': ('centre',),
    'rkc.recalculation': ('account.centre', 'building.centre'),
    'rkc.agreement': ('account.centre',),
    'rkc.visit': ('centre',),
    }


def of_centre(model, centre):
    return ['OR', *((p, '=', centre) for p in BY_CENTRE[model])]


@pytest.fixture(scope='module')
def database(tmp_path_factory):
    "A demo town of two centres with a user per role and centre."
    var = tmp_path_factory.mktemp('access')
    env = town.environment(var)
    name = f'access_{uuid.uuid4().hex[:8]}'
    with town.configured(
            var, name, lambda name: town.unbilled(name, 150, env)):
        yield name, tryton_job.transaction(_users, database=name)


def _users():
    "Per (role, centre index): a user of that group and centre."
    from trytond.pool import Pool
    pool = Pool()
    User = pool.get('res.user')
    Centre = pool.get('rkc.centre')
    Company = pool.get('company.company')
    ModelData = pool.get('ir.model.data')
    company, = Company.search([], limit=1)
    Building = pool.get('rkc.building')
    Account = pool.get('rkc.account')
    centres = Centre.search([], order=[('id', 'ASC')])
    assert len(centres) >= 2
    # A small town has all its buildings in the first centre: half of them
    # move to the second so that each operator has data to be kept from.
    buildings = Building.search([], order=[('id', 'ASC')])
    assert len(buildings) >= 2
    moved = buildings[::2]
    Building.write(moved, {'centre': centres[1].id})
    Account.write(Account.search([('premise.building', 'in', moved)]),
        {'centre': centres[1].id})
    users = {}
    for role in ROLES:
        group = ModelData.get_id(MODULE, f'group_rkc_{role}')
        for index, centre in enumerate(centres[:2]):
            user, = User.create([{
                        'name': f'{role} {index}',
                        'login': f'{role}_{index}',
                        'groups': [('add', [group])],
                        'rkc_centres': [('add', [centre.id])],
                        'companies': [('add', [company.id])],
                        'company': company.id,
                        }])
            users[role, index] = user.id
    users['company'] = company.id
    users['centres'] = [c.id for c in centres[:2]]
    return users


def as_user(database, users, user, func):
    """``func(pool)`` as ``user`` with access checked as for a desk call;
    rolled back."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    tryton_job.pool(database)
    context = {'company': users['company'],
        'companies': [users['company']], '_check_access': True}
    with Transaction().start(database, user, context=context) as trans:
        try:
            return func(Pool())
        finally:
            trans.rollback()


def as_root(database, func):
    from trytond.pool import Pool
    return tryton_job.transaction(lambda: func(Pool()), database=database,
        readonly=True)


def stored_models(pool):
    "Models of the module that store records, with their access rows."
    from trytond.model import ModelStorage
    Model = pool.get('ir.model')
    Access = pool.get('ir.model.access')
    result = {}
    for model in Model.search([('module', '=', MODULE)]):
        # Wizard steps and report parameters are views that store nothing.
        if not issubclass(pool.get(model.name), ModelStorage):
            continue
        result[model.name] = [
            (a.group.id if a.group else None, a.perm_read, a.perm_write,
                a.perm_create, a.perm_delete)
            for a in Access.search([('model', '=', model.name)])]
    return result


def test_every_model_has_explicit_access_rows(database):
    name, _ = database

    def check(pool):
        ModelData = pool.get('ir.model.data')
        admin = ModelData.get_id(MODULE, 'group_rkc_admin')
        problems = {}
        for model, rows in stored_models(pool).items():
            defaults = [r for r in rows if r[0] is None]
            grants = {r[0] for r in rows if r[0] is not None}
            wrong = []
            if len(defaults) != 1:
                wrong.append(f'{len(defaults)} default rows')
            elif any(defaults[0][2:]) or (
                    defaults[0][1] and model not in PUBLIC_READ):
                wrong.append('the default row grants access')
            if not grants:
                wrong.append('no group row')
            elif admin not in grants and model not in PUBLIC_READ:
                wrong.append('no row for the administrators')
            if wrong:
                problems[model] = wrong
        return problems
    problems = as_root(name, check)
    assert problems == {}


def test_models_enumerated(database):
    "The enumeration sees the key models and skips wizard steps."
    name, _ = database
    models = as_root(name, stored_models)
    assert set(MATRIX) <= set(models)
    assert 'rkc.meter.replace.start' not in models
    assert 'rkc.report.turnover_sheet' in models


@pytest.mark.parametrize('model', sorted(MATRIX))
def test_role_matrix(database, model):
    from trytond.model.exceptions import AccessError
    name, users = database
    centre = users['centres'][0]

    def sample(pool):
        Model = pool.get(model)
        domain = of_centre(model, centre) if model in BY_CENTRE else []
        return [r.id for r in Model.search(domain, limit=1)]
    ids = as_root(name, sample)
    if model in WRITTEN:
        assert ids, f'the demo town has no {model}'

    def read(pool):
        Model = pool.get(model)
        found = Model.search([('id', 'in', ids)])
        Model.read([r.id for r in found], ['rec_name'])
        return len(found)

    def write(pool):
        Model = pool.get(model)
        records = Model.browse(ids if model in WRITTEN else [])
        field = WRITTEN.get(model)
        for record in records:
            Model.write([record], {field: getattr(record, field)})
        if not records:
            Model.write([], {})

    outcome = {}
    for role in ROLES:
        user = users[role, 0]
        for mode, func in (('r', read), ('w', write)):
            try:
                result = as_user(name, users, user, func)
            except AccessError:
                outcome[role, mode] = False
            else:
                outcome[role, mode] = True
                if mode == 'r':
                    assert result == len(ids), (role, model)
    expected = {(role, mode): mode in allowed
        for role, allowed in zip(ROLES, MATRIX[model], strict=True)
        for mode in 'rw'}
    assert outcome == expected


def test_operator_rules_cover_centre_data(database):
    "Every model holding a centre's data has a record rule for operators."
    name, _ = database

    def uncovered(pool):
        RuleGroup = pool.get('ir.rule.group')
        ModelData = pool.get('ir.model.data')
        operator = ModelData.get_id(MODULE, 'group_rkc_operator')
        covered = {g.model for g in RuleGroup.search([
                    ('groups', '=', operator), ('perm_read', '=', True)])}
        return sorted(set(BY_CENTRE) - covered)
    assert as_root(name, uncovered) == []


@pytest.mark.parametrize('model', sorted(BY_CENTRE))
def test_operator_sees_only_own_centre(database, model):
    from trytond.model.exceptions import AccessError
    name, users = database
    own, other = users['centres']

    def ids_by_centre(pool):
        Model = pool.get(model)
        return [[r.id for r in Model.search(of_centre(model, c))]
            for c in (own, other)]
    own_ids, other_ids = as_root(name, ids_by_centre)

    def visible(pool):
        return {r.id for r in pool.get(model).search([])}
    assert as_user(name, users, users['operator', 0], visible) \
        == set(own_ids)
    assert as_user(name, users, users['operator', 1], visible) \
        == set(other_ids)
    # The accountant works for every centre.
    assert as_user(name, users, users['accountant', 0], visible) \
        >= set(own_ids + other_ids)
    if model in WRITTEN:
        assert own_ids and other_ids, f'no {model} in one of the centres'
    else:
        return

    def read_other(pool):
        pool.get(model).read(other_ids[:1], ['rec_name'])
    with pytest.raises(AccessError):
        as_user(name, users, users['operator', 0], read_other)
    field = WRITTEN[model]

    def write_other(pool):
        Model = pool.get(model)
        record = Model(other_ids[0])
        Model.write([record], {field: getattr(record, field)})
    with pytest.raises(AccessError):
        as_user(name, users, users['operator', 0], write_other)
