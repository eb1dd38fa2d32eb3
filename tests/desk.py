"""A demo database served by trytond with the sao desk, and a headless
Chromium driving it — shared by the browser tests."""
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

import town

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CHROMEDRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def server_environment(var):
    "The environment of an rkc process using the test suite's database."
    env = dict(os.environ, RKC_VAR=str(var))
    env.pop('TRYTOND_CONFIG', None)
    uri = os.environ.get('TRYTOND_DATABASE_URI', '')
    if uri.startswith('postgresql'):
        env['TRYTOND_DATABASE__URI'] = uri
    else:
        env.pop('TRYTOND_DATABASE__URI', None)
    return env


def rkc(*args, env, **kwargs):
    return subprocess.run(
        [sys.executable, '-m', 'rkc.cli', *args], env=env, cwd=ROOT,
        check=True, **kwargs)


@contextlib.contextmanager
def demo_desk(tmp_path, accounts=25, settings=None):
    """Create a small demo town, serve it, and yield (base URL, database
    name, environment); the server stops afterwards. ``settings`` adds
    variables to the environment (e.g. TRYTOND_EMAIL__URI)."""
    if not (ROOT / '.cache' / 'sao' / 'index.html').exists():
        pytest.fail('sao is not installed: run make (it installs .cache/sao)')
    env = {**server_environment(tmp_path), **(settings or {})}
    database = 'desk_' + uuid.uuid4().hex[:8]
    rkc('-d', database, 'demo', '--accounts', str(accounts), '--no-serve',
        env=env, stdout=subprocess.DEVNULL)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, '-m', 'rkc.cli', '-d', database, 'serve',
            '--port', str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    url = f'http://localhost:{port}/'
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError('the desk did not start') from None
                time.sleep(0.3)
        yield url, database, env
    finally:
        server.terminate()
        server.wait(10)
        if env.get('TRYTOND_DATABASE__URI', '').startswith('postgresql'):
            town.drop(database)


def chromium(download_dir=None):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ('--headless', '--no-sandbox', '--disable-gpu',
            '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--window-size=1400,1000', '--lang=ru'):
        options.add_argument(argument)
    if download_dir:
        options.add_experimental_option('prefs', {
                'download.default_directory': str(download_dir)})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def login(driver, url, database, user='admin', password='admin'):
    "Log in to sao and wait for the menu."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
    wait = WebDriverWait(driver, 30)
    driver.get(f'{url}#{database}')
    login_input = wait.until(ec.visibility_of_element_located(
            (By.ID, 'login')))
    # The server does not list its databases (list = False), so sao asks
    # for the name; it does not take it from the address.
    for database_input in driver.find_elements(
            By.CSS_SELECTOR, 'input#database'):
        if database_input.is_displayed():
            database_input.send_keys(database)
    login_input.send_keys(user, Keys.ENTER)
    wait.until(ec.visibility_of_element_located(
            (By.CSS_SELECTOR, 'input[type=password]'))).send_keys(
        password, Keys.ENTER)
    wait.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, '#menu .treeview, #menu table')))
    return wait
