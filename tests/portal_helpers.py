"""A demo town served with the consumers' portal, a local SMTP server that
catches its mail, an HTTP client with cookies, and SQL against the town —
shared by the portal tests."""
import contextlib
import http.cookiejar
import re
import time
import urllib.error
import urllib.request
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller

import town
from desk import demo_desk, free_port

from rkc_utilities.portal import link_code

# Few failed logins before the lockout, to keep the test short (trytond
# sleeps 2 ** failures - 1 seconds after each).
MAX_ATTEMPT = 2


class Mailbox:
    "An aiosmtpd handler keeping every message."

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(BytesParser(policy=policy.default).parsebytes(
                envelope.content))
        return '250 OK'

    def link(self, recipient, path, after=0, timeout=20):
        "The first URL containing ``path`` in a mail to ``recipient``."
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages[after:]:
                if message['To'] != recipient:
                    continue
                body = message.get_body(('html', 'plain')).get_content()
                for url in re.findall(r'https?://[^\s"<]+', body):
                    if path in url:
                        return url.replace('&amp;', '&')
            time.sleep(0.2)
        raise AssertionError(f'no mail with {path} to {recipient}')


@contextlib.contextmanager
def served_portal(tmp_path):
    """Yield (portal URL, database, Mailbox, environment of rkc processes)
    of a served demo town; the database is dropped afterwards."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname='127.0.0.1', port=port)
    controller.start()
    database = None
    try:
        with demo_desk(tmp_path, settings={
                    'TRYTOND_DATABASE__URI': town.PG_URI,
                    'TRYTOND_EMAIL__URI': f'smtp://127.0.0.1:{port}',
                    'TRYTOND_EMAIL__FROM': 'portal@example.org',
                    'TRYTOND_SESSION__MAX_ATTEMPT': str(MAX_ATTEMPT),
                    }) as (url, database, env):
            yield f'{url}{database}/portal', database, mailbox, env
    finally:
        controller.stop()
        if database:
            town.drop(database)


def sql(database, query, params=()):
    with town.connect(database, autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else None


def receipt_code(database, number):
    (secret,), = sql(database, 'SELECT portal_secret FROM rkc_configuration')
    return link_code(secret, number)


def set_reading_window(database, first, last):
    sql(database, 'UPDATE rkc_configuration SET reading_first_day = %s, '
        'reading_last_day = %s', (first, last))


def closed_window(day):
    "A reading window that excludes ``day``."
    return (1, day - 1) if day > 1 else (2, 31)


class Client:
    "A browser-less visitor of the portal: cookies, forms with the token."

    def __init__(self, base):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies),
            _NoRedirect())

    def request(self, path, data=None, files=None, csrf=True):
        "(status, body bytes, headers) of a GET or, with data, a POST."
        url = path if path.startswith('http') else self.base + path
        headers = {}
        body = None
        if data is not None or files:
            data = dict(data or {})
            if csrf:
                data.setdefault('csrf', self.csrf())
            body, content_type = _encode(data, files or {})
            headers['Content-Type'] = content_type
        request = urllib.request.Request(url, body, headers)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers

    def text(self, path, data=None, **kwargs):
        status, body, _ = self.request(path, data, **kwargs)
        return status, body.decode('utf-8', 'replace')

    def csrf(self):
        if not self.cookie('rkc_portal_csrf'):
            self.request('/login')
        return self.cookie('rkc_portal_csrf')

    def cookie(self, name):
        for cookie in self.cookies:
            if cookie.name == name:
                return cookie.value

    def login(self, email, password):
        status, body = self.text('/login',
            {'email': email, 'password': password})
        return status, body

    def register(self, mailbox, email, password):
        "Register, follow the mailed link and log in."
        count = len(mailbox.messages)
        status, body = self.text('/register', {'email': email,
                'password': password, 'password2': password})
        assert status == 200, body
        status, body = self.text(mailbox.link(email, '/verify', count))
        assert 'Адрес подтверждён' in body
        status, _ = self.login(email, password)
        assert status == 303


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    "Keep redirects visible: the status says whether a login worked."

    def redirect_request(self, *args, **kwargs):
        return None


def _encode(data, files):
    boundary = 'portal-test-boundary'
    parts = []
    for name, value in data.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; '
            f'name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; '
            f'name="{name}"; filename="{filename}"\r\nContent-Type: '
            'application/octet-stream\r\n\r\n'.encode() + content + b'\r\n')
    parts.append(f'--{boundary}--\r\n'.encode())
    return b''.join(parts), f'multipart/form-data; boundary={boundary}'
