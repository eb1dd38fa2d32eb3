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


def company_and_accounts():
    pool = Pool()
    Company = pool.get('company.company')
    User = pool.get('res.user')
    companies = Company.search([], limit=1)
    if companies:
        company, = companies
    else:
        company = _create_company()
    User.write([User(Transaction().user or 1)], {
            'companies': [('add', [company.id])],
            'company': company.id,
            })
    with Transaction().set_context(company=company.id):
        _create_chart(company)
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
    fiscalyear, = FiscalYear.create([{
                'name': name, 'company': company.id,
                'start_date': dt.date(year, 1, 1),
                'end_date': dt.date(year, 12, 31),
                'move_sequence': sequence.id}])
    FiscalYear.create_period([fiscalyear])
