"""Demo databases started from a kept copy of their setup (PostgreSQL).

Installing the module with trytond-admin takes more than a minute, the town
of a test a second. With ``RKC_DEMO_CACHE=1`` the installed database — the
module, the company with its chart and fiscal years, the reference data — is
kept once as a template database and every later demo is a copy of it
(``CREATE DATABASE … TEMPLATE``), as trytond's own test runner keeps its
``DB_CACHE``. The template's name carries a digest of everything that goes
into it: the code and data of both packages, the versions of trytond and
its modules, and the day (the fiscal years follow today), so a change
makes a new one instead of reusing a stale one. Templates refuse
connections and stay out of trytond's list of databases;
``tools/drop_test_cache.py`` drops them.
"""
import datetime as dt
import hashlib
import importlib.metadata
import os
from pathlib import Path

import psycopg
from psycopg import sql

PREFIX = 'rkc_template_'
# What the installed database is made of; compiled files are not sources.
SOURCES = ('rkc', 'rkc_utilities')
SUFFIXES = {'.py', '.xml', '.po', '.csv', '.json', '.cfg', '.fodt', '.odt'}


def enabled(uri):
    "Whether demos on the server at ``uri`` start from a kept template."
    return (os.environ.get('RKC_DEMO_CACHE') == '1'
        and uri.startswith('postgresql'))


def template_name(root=None, today=None):
    "The name of the template that the current sources would install."
    root = Path(root or Path(__file__).resolve().parents[2])
    digest = hashlib.sha256()
    for name, version in sorted(
            (d.metadata['Name'].lower(), d.version)
            for d in importlib.metadata.distributions()
            if (d.metadata['Name'] or '').lower().startswith(
                ('trytond', 'proteus'))):
        digest.update(f'{name}=={version}'.encode())
    digest.update((today or dt.date.today()).isoformat().encode())
    for package in SOURCES:
        for path in sorted((root / package).rglob('*')):
            if path.suffix in SUFFIXES and '__pycache__' not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return PREFIX + digest.hexdigest()[:16]


def exists(connection, name):
    return connection.execute(
        'SELECT 1 FROM pg_database WHERE datname = %s',
        (name,)).fetchone() is not None


def copy(connection, template, name):
    "Replace the database ``name`` by a copy of ``template``."
    connection.execute(sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)')
        .format(sql.Identifier(name)))
    connection.execute(sql.SQL('CREATE DATABASE {} TEMPLATE {}').format(
            sql.Identifier(name), sql.Identifier(template)))


def keep(connection, built, template):
    """Make the freshly installed database ``built`` (nobody connected) the
    template. Two demos may build it at once: the first to rename wins and
    the other's build is dropped."""
    try:
        connection.execute(sql.SQL('ALTER DATABASE {} RENAME TO {}').format(
                sql.Identifier(built), sql.Identifier(template)))
    except psycopg.errors.DuplicateDatabase:
        drop(connection, built)
        return
    connection.execute(sql.SQL(
            'ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
        .format(sql.Identifier(template)))


def drop(connection, name):
    "Drop a database, a kept template included."
    if exists(connection, name):
        connection.execute(sql.SQL(
                'ALTER DATABASE {} WITH IS_TEMPLATE false').format(
                sql.Identifier(name)))
    connection.execute(sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)')
        .format(sql.Identifier(name)))


def drop_all(connection):
    "Drop every kept template; returns how many."
    names = [name for name, in connection.execute(
            'SELECT datname FROM pg_database WHERE datname LIKE %s',
            (PREFIX.replace('_', r'\_') + '%',))]
    for name in names:
        drop(connection, name)
    return len(names)
