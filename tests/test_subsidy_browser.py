"""A social worker walks one complete subsidy application on the sao desk
in headless Chromium: the family and incomes entered in the editable list,
the documents ticked, Check, Decide, the decision printed. The test prints
the number of screens and the elapsed time of the walk."""
import json
import re
import subprocess
import sys
import textwrap
import time

import pytest
from test_receipt_pdf import text_of

from desk import chromium, demo_desk, login

pytestmark = pytest.mark.browser

FAMILY = [('Иванов Иван Иванович', ('Трудоспособный', 'Working Age'), '90000'),
    ('Иванова Мария Петровна', ('Трудоспособный', 'Working Age'), '90000'),
    ('Иванов Пётр Иванович', ('Ребёнок', 'Child'), '0')]
DOCUMENTS = ('doc_passports', 'doc_registration', 'doc_ownership',
    'doc_incomes', 'doc_no_debt')
# Reception has registered the visit: applicant, account and region; the
# social worker enters the rest.
PREPARE = """\
import datetime as dt
from decimal import Decimal
pool = Pool()
Parameters = pool.get('rkc.subsidy.parameters')
Configuration = pool.get('rkc.configuration')
Account = pool.get('account.account')
Application = pool.get('rkc.subsidy.application')
Parameters.create([{'region': 'Демо-область',
    'valid_from': dt.date(2020, 1, 1), 'standard_cost_1': Decimal('3100'),
    'standard_cost_2': Decimal('2850'), 'standard_cost_3': Decimal('2600'),
    'max_share': Decimal('0.22'), 'minimum_working': Decimal('19329'),
    'minimum_pensioner': Decimal('15250'),
    'minimum_child': Decimal('17201')}])
config = Configuration(1)
config.subsidy_account, = Account.search([('code', '=', '76.01')])
config.save()
cursor = Transaction().connection.cursor()
cursor.execute(
    "SELECT l.account, l.period, SUM(l.amount) FROM rkc_ledger_line l "
    "WHERE l.kind = 'charge' AND l.period = (SELECT MAX(period) "
    "FROM rkc_ledger_line WHERE kind = 'charge') "
    "GROUP BY l.account, l.period ORDER BY SUM(l.amount) DESC LIMIT 1")
account, period, charges = cursor.fetchone()
if isinstance(period, str):
    period = dt.date.fromisoformat(period)
RkcAccount = pool.get('rkc.account')
application, = Application.create([{
    'account': account, 'applicant': RkcAccount(account).payer.id,
    'region': 'Демо-область',
    'applied_on': period + dt.timedelta(days=9)}])
return {'application': application.id, 'charges': str(charges)}
"""
READ = """\
Application = Pool().get('rkc.subsidy.application')
application = Application({id})
return {{'state': application.state, 'monthly': str(application.monthly),
    'members': len(application.members),
    'months': [str(m.amount) for m in application.months]}}
"""
SCRIPT = """\
import json
from rkc import settings, tryton_job
tryton_job.configure(settings.config_file())
def run():
    from trytond.pool import Pool
    from trytond.transaction import Transaction
{body}
print(json.dumps(tryton_job.transaction(run, database={database!r},
    context={{'language': 'ru'}})))
"""


def tryton(env, database, body):
    source = SCRIPT.format(body=textwrap.indent(body, '    '),
        database=database)
    output = subprocess.run([sys.executable, '-c', source], env=env,
        check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def desk(tmp_path_factory):
    with demo_desk(tmp_path_factory.mktemp('subsidy_desk')) as served:
        yield served


def member_cell(driver, by, field, tag='input'):
    """The widget of ``field`` in the member row being edited (the list
    shows inputs only in that row), else the list's focused widget of that
    kind: the keyboard walks the row's cells in order."""
    from selenium.common.exceptions import NoSuchElementException
    for cell in driver.find_elements(by.CSS_SELECTOR,
            f'.form-one2many {tag}[name={field}]'):
        if cell.is_displayed():
            return cell
    focused = driver.switch_to.active_element
    if focused.tag_name == tag and focused.find_elements(by.XPATH,
            "ancestor::*[contains(@class, 'form-one2many')]"):
        return focused
    raise NoSuchElementException(f'no {field} cell being edited')


def empty_member_row(driver, by):
    "Whether a new, still empty member row is edited."
    return not member_cell(driver, by, 'name').get_attribute('value')


def typed(field, *keys):
    "Type ``keys`` into the edited member's ``field``."
    from selenium.webdriver.common.by import By

    def type_in(driver):
        member_cell(driver, By, field).send_keys(*keys)
        return True
    return type_in


def chosen(field, labels):
    "Choose in the edited member's ``field`` the label shown of ``labels``."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    def choose(driver):
        select = Select(member_cell(driver, By, field, 'select'))
        options = [o.text for o in select.options]
        select.select_by_visible_text(next(g for g in labels if g in options))
        # On to the next cell, as the social worker's keyboard goes.
        member_cell(driver, By, field, 'select').send_keys(Keys.TAB)
        return True
    return choose


def cells(driver, timeout=30):
    """A wait for the member row's cells: a redraw of the list (an
    on_change answered) may hide or replace a cell while it is used."""
    from selenium.common.exceptions import (
        ElementNotInteractableException, NoSuchElementException,
        StaleElementReferenceException)
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, ignored_exceptions=(
            NoSuchElementException, ElementNotInteractableException,
            StaleElementReferenceException))


def new_button(driver, by):
    "The members list's New button, once it can be clicked."
    return next((b for b in driver.find_elements(
                by.CSS_SELECTOR, '.form-one2many button')
            if b.get_attribute('title') in ('New', 'Создать')
            and b.is_displayed() and b.is_enabled()), None)


def new_member_row(driver, by, clicks=3):
    "Click New until the list edits an empty member row."
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    wait = WebDriverWait(driver, 10)
    for _ in range(clicks):
        wait.until(lambda d: new_button(d, by)).click()
        try:
            cells(driver, 10).until(lambda d: empty_member_row(d, by))
            return
        except TimeoutException:
            continue
    raise TimeoutException(f'no new member row after {clicks} clicks')


def digits(text):
    return re.sub(r'\D', '', text or '')


def test_social_worker_walks_one_application(desk, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    url, database, env = desk
    prepared = tryton(env, database, PREPARE)
    application = prepared['application']
    downloads = tmp_path / 'downloads'
    downloads.mkdir()
    driver = chromium(download_dir=downloads)
    try:
        wait = login(driver, url, database)
        started = time.monotonic()
        screens = 1
        driver.get(f'{url}#{database}/model/rkc.subsidy.application/'
            f'{application}')
        wait.until(lambda d: new_button(d, By))
        for name, group, income in FAMILY:
            # The cells of the new row, not the focused element: under load
            # the list may still redraw when the click lands, or the click
            # may come while the previous row is being validated and go
            # unheeded.
            new_member_row(driver, By)
            cells(driver).until(typed('name', name, Keys.TAB))
            cells(driver).until(chosen('group', group))
            cells(driver).until(typed('income',
                    Keys.CONTROL, 'a', Keys.NULL, income, Keys.TAB))
        for document in DOCUMENTS:
            driver.find_element(
                By.CSS_SELECTOR, f'input[name={document}]').click()

        driver.find_element(By.CSS_SELECTOR, 'button[name=check]').click()
        wait.until(lambda d: digits(d.find_element(
                    By.CSS_SELECTOR, 'input[name=monthly]').get_attribute(
                    'value')) == '425514')
        driver.find_element(By.CSS_SELECTOR, 'button[name=decide]').click()
        wait.until(lambda d: not d.find_element(
                By.CSS_SELECTOR, 'button[name=decide]').is_displayed())

        driver.find_element(By.CSS_SELECTOR, 'button#print').click()
        wait.until(lambda d: [a for a in d.find_elements(
                    By.CSS_SELECTOR, 'ul[aria-labelledby=print] a')
                if 'субсид' in a.text.lower() or 'Subsidy' in a.text]
            )[0].click()
        screens += 1
        pdf = wait.until(lambda d: next((p for p in downloads.iterdir()
                    if p.suffix == '.pdf'), None))
        elapsed = time.monotonic() - started
    finally:
        # What the worker saw last, for a failure's diagnosis.
        driver.save_screenshot(str(tmp_path / 'application.png'))
        print(driver.find_element(By.TAG_NAME, 'body').text[-2000:])
        driver.quit()

    print(f'\nsubsidy walk: {screens} screens, {elapsed:.1f} s')
    stored = tryton(env, database, READ.format(id=application))
    assert stored['state'] == 'approved'
    assert stored['monthly'] == '4255.14'
    assert stored['members'] == 3
    assert stored['months'] == ['4255.14'] * 6
    text = ' '.join(text_of(pdf).split())
    assert 'о предоставлении субсидии' in text
    assert 'в размере 4 255,14 руб. в месяц' in text
