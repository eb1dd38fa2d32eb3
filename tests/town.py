"""A demo town in PostgreSQL for the billing tests and bench: built once by
``rkc demo``, then copied (CREATE DATABASE … TEMPLATE) for each scenario,
with ``rkc`` commands, RQ workers and direct SQL against it."""
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
PG_URI = 'postgresql://postgres@127.0.0.1:5432/'
SERVER = 'host=127.0.0.1 user=postgres'


def environment(var, redis_url=None):
    "The environment of an ``rkc`` process on the PostgreSQL server."
    env = dict(os.environ, RKC_VAR=str(var), TRYTOND_DATABASE__URI=PG_URI)
    env.pop('TRYTOND_CONFIG', None)
    env.pop('RKC_REDIS_URL', None)
    if redis_url:
        env['RKC_REDIS_URL'] = redis_url
    return env


def rkc(database, *args, env, check=True):
    "Run ``rkc -d database args``; returns the completed process."
    return subprocess.run(
        [sys.executable, '-m', 'rkc.cli', '-d', database, *args], env=env,
        cwd=ROOT, check=check, capture_output=True, text=True,
        stdin=subprocess.DEVNULL)


def build(database, accounts, env):
    "A fresh demo town (the database is replaced)."
    rkc(database, 'demo', '--accounts', str(accounts), '--no-serve',
        env=env)


def unbilled(database, accounts, env):
    """A fresh demo town with no month billed; a failed build leaves no
    database behind."""
    built = rkc(database, 'demo', '--accounts', str(accounts), '--no-serve',
        '--billed-months', '0', env=env, check=False)
    if built.returncode:
        drop(database)
        raise AssertionError(f'rkc demo failed:\n{built.stderr}')


@contextlib.contextmanager
def configured(var, name, build):
    """Build the town ``name`` with ``build(name)``, point this process's
    Tryton at the configuration in ``var`` and yield; afterwards restore
    the configuration and drop the town."""
    from trytond import config

    from rkc import tryton_job
    build(name)
    saved = {option: config.get('database', option)
        for option in ('uri', 'path')}
    tryton_job.configure(str(Path(var) / 'trytond.conf'))
    try:
        yield
    finally:
        for option, value in saved.items():
            config.set('database', option, value)
        drop(name)


@contextlib.contextmanager
def unbilled_town(tmp_path_factory, prefix, accounts):
    """An unbilled town of ``accounts`` accounts named ``prefix_…``, this
    process's Tryton configured for it; yields its name."""
    var = tmp_path_factory.mktemp(prefix)
    env = environment(var)
    name = f'{prefix}_{uuid.uuid4().hex[:8]}'
    with configured(var, name, lambda name: unbilled(name, accounts, env)):
        yield name


@contextlib.contextmanager
def copies(var, template, build):
    """Like :func:`configured`, yielding a function that returns the name
    of a fresh copy of the town; the copies are dropped too."""
    databases = []

    def fresh_copy():
        name = f'{template}_{len(databases)}'
        copy(template, name)
        databases.append(name)
        return name
    with configured(var, template, build):
        try:
            yield fresh_copy
        finally:
            for name in databases:
                drop(name)


def _admin(statement):
    with psycopg.connect(SERVER + ' dbname=postgres',
            autocommit=True) as connection:
        connection.execute(statement)


def copy(template, database):
    "A copy of the template database (nobody may be connected to it)."
    _admin(sql.SQL('CREATE DATABASE {} TEMPLATE {}').format(
            sql.Identifier(database), sql.Identifier(template)))


def rename(database, name):
    _admin(sql.SQL('ALTER DATABASE {} RENAME TO {}').format(
            sql.Identifier(database), sql.Identifier(name)))


def drop(database):
    _admin(sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)').format(
            sql.Identifier(database)))


def connect(database, **kwargs):
    return psycopg.connect(f'{SERVER} dbname={database}', **kwargs)


def rows(database, query, *params):
    with connect(database) as connection:
        return connection.execute(query, params).fetchall()


def execute(database, *statements):
    "Run ``(query, params)`` statements in one transaction."
    with connect(database) as connection:
        for query, params in statements:
            connection.execute(query, params)


def start_worker(database, env):
    "A long-lived ``rkc worker`` process."
    return subprocess.Popen(
        [sys.executable, '-m', 'rkc.cli', '-d', database, 'worker'],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


@contextlib.contextmanager
def workers(database, env, count=2):
    "``count`` RQ workers, stopped (warm shutdown) on exit."
    processes = [start_worker(database, env) for _ in range(count)]
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(condition, timeout=60, poll=0.1, what='the condition',
        explain=lambda: ''):
    "Poll until ``condition()`` is true; ``explain()`` tells why not."
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f'{what} did not happen in {timeout} s {explain()}')
        time.sleep(poll)
