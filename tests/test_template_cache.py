"""The kept demo templates: named after what they are made of, kept once
when two demos race, copied, and dropped with their template flag."""
import datetime as dt
import uuid

import psycopg
import pytest
from psycopg import sql

import town
from rkc.demo import template_cache

DAY = dt.date(2026, 11, 26)


@pytest.fixture
def sources(tmp_path):
    for package in template_cache.SOURCES:
        (tmp_path / package / 'view').mkdir(parents=True)
        (tmp_path / package / 'model.py').write_text('fields = 1\n')
        (tmp_path / package / 'view' / 'form.xml').write_text('<form/>')
    return tmp_path


def test_name_is_stable_for_the_same_sources(sources):
    name = template_cache.template_name(sources, DAY)
    assert name == template_cache.template_name(sources, DAY)
    assert name.startswith(template_cache.PREFIX)
    assert len(name) < 63, 'PostgreSQL truncates longer names'


@pytest.mark.parametrize('change', [
        lambda root: (root / 'rkc' / 'model.py').write_text('fields = 2\n'),
        lambda root: (root / 'rkc_utilities' / 'view' / 'list.xml')
        .write_text('<tree/>'),
        lambda root: (root / 'rkc_utilities' / 'view' / 'form.xml')
        .rename(root / 'rkc_utilities' / 'view' / 'other.xml'),
        ])
def test_a_changed_source_names_another_template(sources, change):
    before = template_cache.template_name(sources, DAY)
    change(sources)
    assert template_cache.template_name(sources, DAY) != before


def test_compiled_files_and_other_days_count_as_they_should(sources):
    before = template_cache.template_name(sources, DAY)
    cache = sources / 'rkc' / '__pycache__'
    cache.mkdir()
    (cache / 'model.cpython-311.pyc').write_bytes(b'\0')
    (sources / 'rkc' / 'notes.txt').write_text('not a source')
    assert template_cache.template_name(sources, DAY) == before
    assert template_cache.template_name(
        sources, DAY + dt.timedelta(days=1)) != before


@pytest.fixture
def server():
    with psycopg.connect(town.SERVER + ' dbname=postgres',
            autocommit=True) as connection:
        yield connection


def create(connection, name, marker):
    connection.execute(sql.SQL('CREATE DATABASE {}').format(
            sql.Identifier(name)))
    with psycopg.connect(town.SERVER + f' dbname={name}',
            autocommit=True) as database:
        database.execute('CREATE TABLE marker (value text)')
        database.execute('INSERT INTO marker VALUES (%s)', (marker,))


def marker(name):
    with psycopg.connect(town.SERVER + f' dbname={name}') as database:
        return database.execute('SELECT value FROM marker').fetchone()[0]


@pytest.mark.postgresql
def test_the_first_build_is_kept_and_copied(server):
    template = f'{template_cache.PREFIX}selftest_{uuid.uuid4().hex[:8]}'
    first, second = template + '_1', template + '_2'
    copy = f'copy_{uuid.uuid4().hex[:8]}'
    try:
        create(server, first, 'first')
        create(server, second, 'second')
        template_cache.keep(server, first, template)
        # The demo that finished second finds the template taken.
        template_cache.keep(server, second, template)
        assert not template_cache.exists(server, first)
        assert not template_cache.exists(server, second)
        assert server.execute(
            'SELECT datistemplate, datallowconn FROM pg_database '
            'WHERE datname = %s', (template,)).fetchone() == (True, False)
        with pytest.raises(psycopg.OperationalError,
                match='not currently accepting connections'):
            marker(template)
        # Copying replaces what the target held.
        create(server, copy, 'old')
        template_cache.copy(server, template, copy)
        assert marker(copy) == 'first'
    finally:
        for name in (first, second, copy, template):
            template_cache.drop(server, name)
    assert not template_cache.exists(server, template)
