"""Drop the module-test database caches that trytond's test runner keeps on
the PostgreSQL server (DB_CACHE=postgresql://, databases ``test-<hash of
the module name>``). The name does not change with the module's schema, so
a cache made by an earlier checkout would be restored with its old tables:
``make test`` starts from none. The demo templates that ``RKC_DEMO_CACHE``
keeps (:mod:`rkc.demo.template_cache`) go too, so that they do not pile up
on the server as the sources change."""
import sys

import psycopg
from psycopg import sql

from rkc.demo import template_cache


def main(server):
    with psycopg.connect(server, dbname='postgres',
            autocommit=True) as connection:
        names = [name for name, in connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'test-%'")]
        for name in names:
            connection.execute(sql.SQL(
                    'DROP DATABASE IF EXISTS {} WITH (FORCE)').format(
                    sql.Identifier(name)))
        templates = template_cache.drop_all(connection)
    print(f'dropped {len(names)} cached test databases and {templates} '
        'demo templates')


if __name__ == '__main__':
    main(sys.argv[1])
