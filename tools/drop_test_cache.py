"""Drop the module-test database caches that trytond's test runner keeps on
the PostgreSQL server (DB_CACHE=postgresql://, databases ``test-<hash of
the module name>``). The name does not change with the module's schema, so
a cache made by an earlier checkout would be restored with its old tables:
``make test`` starts from none."""
import sys

import psycopg
from psycopg import sql


def main(server):
    with psycopg.connect(server, dbname='postgres',
            autocommit=True) as connection:
        names = [name for name, in connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'test-%'")]
        for name in names:
            connection.execute(sql.SQL(
                    'DROP DATABASE IF EXISTS {} WITH (FORCE)').format(
                    sql.Identifier(name)))
    print(f'dropped {len(names)} cached test databases')


if __name__ == '__main__':
    main(sys.argv[1])
