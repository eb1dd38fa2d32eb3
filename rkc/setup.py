"""First set-up of a database: the company with its bank details, a chart of
accounts for the ledger summaries, fiscal years, and reference data.

Each function runs inside :func:`rkc.tryton_job.transaction` and is
idempotent: it finds what exists and creates only what is missing.
"""
import datetime as dt
from decimal import Decimal

from trytond.pool import Pool
from trytond.transaction import Transaction

from rkc.engine.bank import with_control_digit

COMPANY = {
    'name': 'АО «Городские тепловые сети»',
    'payee_inn': '6658123456',
    'payee_kpp': '665801001',
    'bank_name': 'ПАО Сбербанк',
    'bank_bic': '046577674',
    'correspondent_account': '30101810500000000674',
    'settlement_account': '40702810016020000000',
    }

# Russian chart of accounts (Order 94n): only what the ledger summaries use.
ACCOUNT_TYPES = {
    'cash': ('Денежные средства', 'balance', {'assets': True}),
    'receivable': ('Расчёты с дебиторами', 'balance',
        {'assets': True, 'receivable': True}),
    'payable': ('Расчёты с кредиторами', 'balance', {'payable': True}),
    'revenue': ('Доходы', 'income', {'revenue': True}),
    'expense': ('Расходы', 'income', {'expense': True}),
    }
ACCOUNTS = {
    '50': ('Касса', 'cash'),
    '51': ('Расчётные счета', 'cash'),
    '57': ('Переводы в пути (платёжные агенты)', 'cash'),
    '62.01': ('Расчёты с потребителями за ЖКУ', 'receivable'),
    '62.02': ('Авансы потребителей', 'payable'),
    '76.01': ('Расчёты с органами соцзащиты (субсидии)', 'receivable'),
    '90.01': ('Выручка от ЖКУ', 'revenue'),
    '91.01': ('Пени', 'revenue'),
    '91.02': ('Списание безнадёжной задолженности', 'expense'),
    }
# Penalties are billed as a service of their own (receipts show them).
PENALTY_SERVICE = {
    'code': 'penalty', 'name': 'Пени', 'unit': 'руб.', 'method': 'fixed',
    'sequence': 100, 'restrictable': False, 'meter_digits': 0,
    }


def company_id():
    Company = Pool().get('company.company')
    company, = Company.search([], limit=1)
    return company.id


def company_and_accounts():
    pool = Pool()
    Company = pool.get('company.company')
    User = pool.get('res.user')
    companies = Company.search([], limit=1)
    if companies:
        company, = companies
    else:
        company = _create_company()
    # The company is configured here, not by the first-login wizard.
    ConfigItem = pool.get('ir.module.config_wizard.item')
    ConfigItem.write(ConfigItem.search([]), {'state': 'done'})
    # Russian parties are identified by ИНН (Tryton's ru_vat) and ОГРН.
    PartyConfiguration = pool.get('party.configuration')
    party_configuration = PartyConfiguration(1)
    party_configuration.identifier_types = ['ru_vat', 'ru_ogrn']
    party_configuration.save()
    Lang = pool.get('ir.lang')
    russian, = Lang.search([('code', '=', 'ru')], limit=1)
    User.write([User(Transaction().user or 1)], {
            'companies': [('add', [company.id])],
            'company': company.id,
            'language': russian.id,
            })
    with Transaction().set_context(company=company.id):
        _create_chart(company)
        _configure(company)
        today = dt.date.today()
        for year in range(today.year - 3, today.year + 2):
            _create_fiscal_year(company, year)
    return company.id


def _create_company():
    pool = Pool()
    Currency = pool.get('currency.currency')
    Party = pool.get('party.party')
    Company = pool.get('company.company')
    rub = Currency.search([('code', '=', 'RUB')], limit=1)
    if not rub:
        rub = Currency.create([{
                    'name': 'Российский рубль', 'code': 'RUB',
                    'numeric_code': '643', 'symbol': '₽',
                    'rounding': Decimal('0.01'), 'digits': 2}])
    party, = Party.create([{'name': COMPANY['name']}])
    values = {k: v for k, v in COMPANY.items() if k != 'name'}
    values['settlement_account'] = with_control_digit(
        values['settlement_account'], values['bank_bic'])
    company, = Company.create([{
                'party': party.id, 'currency': rub[0].id,
                'timezone': 'Asia/Yekaterinburg',
                'payee_name': COMPANY['name'], **values}])
    return company


def _create_chart(company):
    pool = Pool()
    AccountType = pool.get('account.account.type')
    Account = pool.get('account.account')
    if Account.search([('code', '=', '62.01'),
                ('company', '=', company.id)]):
        return
    root, = AccountType.create([{
                'name': 'План счетов ЖКУ', 'company': company.id,
                'statement': 'balance'}])
    types = {}
    for key, (name, statement, flags) in ACCOUNT_TYPES.items():
        types[key], = AccountType.create([{
                    'name': name, 'parent': root.id, 'company': company.id,
                    'statement': statement, **flags}])
    Account.create([{
                'code': code, 'name': name, 'company': company.id,
                'type': types[type_key].id,
                'reconcile': False, 'party_required': False}
            for code, (name, type_key) in ACCOUNTS.items()])


def _configure(company):
    "Point the billing at its control account and journal."
    pool = Pool()
    Configuration = pool.get('rkc.configuration')
    Account = pool.get('account.account')
    Journal = pool.get('account.journal')
    config = Configuration(1)
    if config.settlement_account:
        return
    journals = Journal.search([('code', '=', 'ЖКУ')], limit=1)
    if not journals:
        journals = Journal.create([{
                    'name': 'Начисления ЖКУ', 'code': 'ЖКУ',
                    'type': 'revenue'}])
    settlements, = Account.search([
            ('code', '=', '62.01'), ('company', '=', company.id)])
    social_protection, = Account.search([
            ('code', '=', '76.01'), ('company', '=', company.id)])
    config.settlement_account = settlements
    config.subsidy_account = social_protection
    config.billing_journal = journals[0]
    config.save()


def _create_fiscal_year(company, year):
    pool = Pool()
    FiscalYear = pool.get('account.fiscalyear')
    Sequence = pool.get('ir.sequence.strict')
    ModelData = pool.get('ir.model.data')
    name = str(year)
    if FiscalYear.search([('name', '=', name),
                ('company', '=', company.id)]):
        return
    sequence, = Sequence.create([{
                'name': f'Проводки {year}', 'company': company.id,
                'sequence_type': ModelData.get_id(
                    'account', 'sequence_type_account_move')}])
    # Organisations' invoices (счета) are numbered per year.
    invoices, = Sequence.create([{
                'name': f'Счета {year}', 'company': company.id,
                'sequence_type': ModelData.get_id(
                    'account_invoice', 'sequence_type_account_invoice')}])
    fiscalyear, = FiscalYear.create([{
                'name': name, 'company': company.id,
                'start_date': dt.date(year, 1, 1),
                'end_date': dt.date(year, 12, 31),
                'move_sequence': sequence.id,
                'invoice_sequences': [('create', [{
                                'company': company.id,
                                **{f'{kind}_sequence': invoices.id
                                    for kind in ('out_invoice',
                                        'out_credit_note', 'in_invoice',
                                        'in_credit_note')}}])]}])
    FiscalYear.create_period([fiscalyear])


def reference_data(data=None):
    """Services with their revenue products, tariffs and norms from the
    regional reference data (the demo region's by default)."""
    from rkc.demo.reference import reference_data as demo_reference
    pool = Pool()
    Service = pool.get('rkc.service')
    Tariff = pool.get('rkc.tariff')
    Norm = pool.get('rkc.norm')
    data = data or demo_reference()
    _penalty_service()
    if Service.search([('code', '!=', PENALTY_SERVICE['code'])], limit=1):
        return
    category = _revenue_category()
    services = {}
    for sequence, values in enumerate(data['services'], 1):
        product = _service_product(values['name'], category)
        service, = Service.create([{
                    **values, 'sequence': sequence, 'product': product}])
        services[service.code] = service.id
    Tariff.create([{
                'service': services[t['service']], 'scope': 'all',
                'zones': t['zones'], 'decision': data['tariff_decision'],
                'rates': [('create', _dated_rows(t['rates']))],
                } for t in data['tariffs']])
    norms = [{
            'service': services[n['service']], 'kind': n['kind'],
            'values': [('create', _dated_rows(n['values']))],
            } for n in data['norms']]
    electricity = data['electricity_norms']
    for rooms, values in electricity['per_resident'].items():
        for residents, value in enumerate(values, 1):
            norms.append({
                    'service': services['electricity'],
                    'kind': 'per_person', 'rooms': rooms,
                    'residents': residents,
                    'values': [('create', [{
                                    'valid_from': electricity['valid_from'],
                                    'value': value}])],
                    })
    Norm.create(norms)


def _penalty_service():
    "The service that carries penalties, its revenue on account 91.01."
    pool = Pool()
    Service = pool.get('rkc.service')
    if Service.search([('code', '=', PENALTY_SERVICE['code'])], limit=1):
        return
    category = _revenue_category('Пени', '91.01')
    Service.create([{**PENALTY_SERVICE,
                'product': _service_product(PENALTY_SERVICE['name'],
                    category)}])


def _dated_rows(rows):
    "Rows valid from their date until the day before the next row's."
    rows = sorted(rows, key=lambda r: r['valid_from'])
    result = []
    for row, following in zip(rows, rows[1:] + [None], strict=True):
        values = dict(row)
        if following:
            values['valid_to'] = following['valid_from'] - dt.timedelta(1)
        result.append(values)
    return result


def _revenue_category(name='Коммунальные услуги', code='90.01'):
    pool = Pool()
    Category = pool.get('product.category')
    Account = pool.get('account.account')
    revenue, = Account.search([('code', '=', code)], limit=1)
    category, = Category.create([{
                'name': name, 'accounting': True,
                'account_revenue': revenue.id}])
    return category


def _service_product(name, category):
    pool = Pool()
    Template = pool.get('product.template')
    Uom = pool.get('product.uom')
    ModelData = pool.get('ir.model.data')
    unit = Uom(ModelData.get_id('product', 'uom_unit'))
    template, = Template.create([{
                'name': name, 'type': 'service', 'default_uom': unit.id,
                'account_category': category.id,
                'products': [('create', [{}])],
                }])
    return template.products[0].id
