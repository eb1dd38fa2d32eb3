"""The sao desk in headless Chromium: log in, find the Utilities menu, open a
personal account and see its premise and meters."""
import pytest

from desk import chromium, demo_desk, login

pytestmark = pytest.mark.browser


@pytest.fixture(scope='module')
def desk(tmp_path_factory):
    with demo_desk(tmp_path_factory.mktemp('desk')) as served:
        yield served


def _first_account_with_meters(database, env):
    "Read the expected values through Tryton, as the desk should show them."
    import json
    import subprocess
    import sys
    script = (
        'import json, sys\n'
        'from rkc import settings, tryton_job\n'
        'tryton_job.configure(settings.config_file())\n'
        'def read():\n'
        '    from trytond.pool import Pool\n'
        '    pool = Pool()\n'
        '    Account = pool.get("rkc.account")\n'
        '    Menu = pool.get("ir.ui.menu")\n'
        '    Data = pool.get("ir.model.data")\n'
        '    menu = Menu(Data.get_id("rkc_utilities", "menu_rkc"))\n'
        '    for account in Account.search([], order=[("id", "ASC")]):\n'
        '        if account.meters:\n'
        '            return {"id": account.id, "number": account.number,\n'
        '                "street": account.premise.building.street,\n'
        '                "serial": account.meters[0].serial,\n'
        '                "menu": menu.name}\n'
        f'print(json.dumps(tryton_job.transaction(read, database="{database}",'
        ' context={"language": "ru"})))\n')
    output = subprocess.run(
        [sys.executable, '-c', script], env=env, check=True,
        capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def test_open_account_with_premise_and_meters(desk, tmp_path):
    from selenium.webdriver.common.by import By
    url, database, env = desk
    expected = _first_account_with_meters(database, env)
    driver = chromium()
    try:
        wait = login(driver, url, database)
        wait.until(lambda d: expected['menu'] in d.find_element(
                By.ID, 'menu').text)

        driver.get(f'{url}#{database}/model/rkc.account/{expected["id"]}')
        wait.until(lambda d: any(
                expected['street'] in (e.get_attribute('value') or '')
                for e in d.find_elements(By.CSS_SELECTOR, 'input')))
        assert any(expected['number'] == (e.get_attribute('value') or '')
            for e in driver.find_elements(By.CSS_SELECTOR, 'input'))

        tabs = driver.find_elements(By.CSS_SELECTOR, '.nav-tabs a')
        meters_tab = [t for t in tabs if t.text.strip() in (
                'Meters', 'Приборы учёта')]
        assert meters_tab, [t.text for t in tabs]
        meters_tab[0].click()
        wait.until(lambda d: expected['serial'] in d.page_source)
        driver.save_screenshot(str(tmp_path / 'account.png'))
    finally:
        driver.quit()
