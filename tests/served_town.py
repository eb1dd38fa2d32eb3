"""A demo town on PostgreSQL served by a real trytond process: the
payment-agent API called over plain HTTP, desk users through trytond's
JSON-RPC with their own sessions (their access rights and record rules),
and direct Tryton transactions for setting up what staff would."""
import base64
import contextlib
import datetime as dt
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

from decimal import Decimal

from rkc import tryton_job

import town
from desk import free_port


@contextlib.contextmanager
def served(tmp_path_factory, prefix, accounts):
    """Build a town, serve it; yields (database, base URL, environment,
    var folder). The database is dropped afterwards."""
    from trytond import config
    var = tmp_path_factory.mktemp(prefix)
    env = town.environment(var)
    database = f'{prefix}_{uuid.uuid4().hex[:8]}'
    saved = {option: config.get('database', option)
        for option in ('uri', 'path')}
    server = None
    try:
        town.build(database, accounts, env)
        tryton_job.configure(str(var / 'trytond.conf'))
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, '-m', 'rkc.cli', '-d', database, 'serve',
                '--port', str(port)],
            env=env, cwd=town.ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        url = f'http://localhost:{port}'
        town.wait_for(lambda: _listening(url) or server.poll() is not None,
            what='trytond to listen')
        assert server.poll() is None, 'trytond exited'
        yield database, url, env, var
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        for option, value in saved.items():
            config.set('database', option, value)
        town.drop(database)


def _listening(url):
    try:
        urllib.request.urlopen(url + '/', timeout=2)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def in_tryton(database, function, *args):
    "``function(pool, *args)`` in a committed transaction as admin."
    from trytond.pool import Pool

    from rkc import setup
    company = tryton_job.transaction(setup.company_id, database=database)
    return tryton_job.transaction(
        lambda: function(Pool(), *args), database=database, user=1,
        context={'company': company})


def http(method, url, body=None, key=None, raw=None):
    "(status, JSON body) of a plain HTTP call."
    data = raw if raw is not None else (
        None if body is None else json.dumps(body).encode('utf-8'))
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header('Content-Type', 'application/json')
    if key:
        request.add_header('Authorization', f'Bearer {key}')
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        content = error.read()
        try:
            return error.code, json.loads(content)
        except ValueError:
            return error.code, content.decode('utf-8', 'replace')


def rpc_value(value):
    "A Decimal or date as trytond's JSON-RPC carries it."
    if isinstance(value, Decimal):
        return {'__class__': 'Decimal', 'decimal': str(value)}
    if isinstance(value, dt.date):
        return {'__class__': 'date', 'year': value.year,
            'month': value.month, 'day': value.day}
    return value


def _rpc_object(value):
    kind = value.get('__class__')
    if kind == 'Decimal':
        return Decimal(value['decimal'])
    if kind == 'date':
        return dt.date(value['year'], value['month'], value['day'])
    if kind == 'datetime':
        return dt.datetime(value['year'], value['month'], value['day'],
            value['hour'], value['minute'], value['second'])
    if kind == 'bytes':
        return base64.b64decode(value['base64'])
    return value


class RpcError(Exception):
    "A JSON-RPC error answered by trytond: (type, message)."


class Session:
    "A desk user logged in to trytond over JSON-RPC."

    def __init__(self, url, database, login, password):
        self.url = f'{url}/{database}/rpc/'
        self.context = {}
        self.auth = None
        user_id, token = self.call(
            'common.db.login', login, {'password': password}, 'en')[:2]
        self.auth = 'Session ' + base64.b64encode(
            f'{login}:{user_id}:{token}'.encode()).decode()
        self.user_id = user_id
        self.context = self.call(
            'model.res.user.get_preferences', True, {})
        # The tests read the messages in their source language.
        self.context['language'] = 'en'

    def call(self, method, *params):
        request = urllib.request.Request(self.url, method='POST',
            data=json.dumps({'id': 1, 'method': method,
                    'params': list(params)},
                default=rpc_value).encode('utf-8'))
        request.add_header('Content-Type', 'application/json')
        if self.auth:
            request.add_header('Authorization', self.auth)
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read(), object_hook=_rpc_object)
        if answer.get('error'):
            kind, args = answer['error'][0], answer['error'][1]
            message = args[0] if isinstance(args, list) and args else args
            raise RpcError(kind, message)
        return answer['result']

    def model(self, model, method, *params):
        return self.call(f'model.{model}.{method}', *params, self.context)

    def wizard(self, name, record=None, model=None):
        "Run a wizard; yields each state's view and takes the answers."
        return Wizard(self, name, record, model)


class Wizard:
    "One run of a wizard over JSON-RPC."

    def __init__(self, session, name, record=None, model=None):
        self.session = session
        self.name = name
        self.id, self.state, _ = session.call(
            f'wizard.{name}.create', session.context)
        self.context = dict(session.context)
        if record:
            self.context.update(active_id=record, active_ids=[record],
                active_model=model)
        self.data = {}

    def execute(self, state, data=None):
        "Execute ``state`` with the values of the views; the answer."
        if data:
            self.data.update(data)
        return self.session.call(f'wizard.{self.name}.execute', self.id,
            self.data, state, self.context)
