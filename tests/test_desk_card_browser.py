"""An operator's visit in headless Chromium: find the visitor's account by
the address typed as they say it, open the account card and see the
balance, the meters and the turnover; the screenshot is docs/desk-card.png.
"""
import json
import subprocess
import sys

import pytest

from desk import ROOT, chromium, demo_desk, login

pytestmark = pytest.mark.browser


@pytest.fixture(scope='module')
def desk(tmp_path_factory):
    with demo_desk(tmp_path_factory.mktemp('card')) as served:
        yield served


def _visited_account(database, env):
    "An account with meters and debt, read through Tryton."
    script = (
        'import json\n'
        'from rkc import settings, tryton_job\n'
        'tryton_job.configure(settings.config_file())\n'
        'def read():\n'
        '    from trytond.pool import Pool\n'
        '    Account = Pool().get("rkc.account")\n'
        '    for account in Account.search([], order=[("id", "ASC")]):\n'
        '        if account.meters and account.balance > 0:\n'
        '            building = account.premise.building\n'
        '            return {"number": account.number,\n'
        '                "address": f"{building.street} {building.house} "\n'
        '                    f"кв. {account.premise.number}",\n'
        '                "premise": account.premise.rec_name,\n'
        '                "balance": str(account.balance),\n'
        '                "serial": account.meters[0].serial}\n'
        f'print(json.dumps(tryton_job.transaction(read, database="{database}",'
        ' context={"language": "ru"})))\n')
    output = subprocess.run(
        [sys.executable, '-c', script], env=env, check=True,
        capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _input_values(driver):
    "The values of the inputs shown, none while sao redraws them."
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    try:
        return [e.get_attribute('value') or ''
            for e in driver.find_elements(By.CSS_SELECTOR, 'input')]
    except StaleElementReferenceException:
        return []


def test_operator_finds_account_by_address_and_opens_card(desk):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
    url, database, env = desk
    expected = _visited_account(database, env)
    driver = chromium()
    try:
        wait = login(driver, url, database)
        driver.get(f'{url}#{database}/model/rkc.account')
        search = wait.until(ec.visibility_of_element_located(
                (By.CSS_SELECTOR, '.filter-box input.form-control')))
        search.send_keys(expected['address'], Keys.ENTER)

        def found_row(d):
            "The visitor's row once the list shows only that premise."
            rows = d.find_elements(
                By.CSS_SELECTOR, '.tab-content .treeview tbody tr')
            try:
                texts = [r.text for r in rows]
            except StaleElementReferenceException:
                return False  # the list was redrawn meanwhile
            if rows and all(expected['premise'] in t for t in texts):
                return next(r for r, t in zip(rows, texts, strict=True)
                    if expected['number'] in t)
            return False

        def open_card(d):
            # The number's cell: the premise's would open the premise.
            row = found_row(d)
            if row:
                cell, = [c for c in row.find_elements(By.TAG_NAME, 'td')
                    if c.text.strip() == expected['number']]
                ActionChains(d).double_click(cell).perform()
            return bool(row)
        wait.until(open_card)

        # The card's first opening loads its views and lists: give it time
        # on a busy machine.
        wait = WebDriverWait(driver, 120)
        wait.until(lambda d: expected['number'] in _input_values(d))
        # Shown the Russian way: "21 631,37".
        balance = expected['balance'].replace('.', ',')
        wait.until(lambda d: balance in [
                ''.join(v.split()) for v in _input_values(d)])
        wait.until(lambda d: expected['serial'] in d.page_source)
        tabs = [t.text.strip() for t in driver.find_elements(
                By.CSS_SELECTOR, '.nav-tabs a')]
        assert 'Обороты за 12 месяцев' in tabs, tabs
        driver.save_screenshot(str(ROOT / 'docs' / 'desk-card.png'))
    finally:
        driver.quit()
