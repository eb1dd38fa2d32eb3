"""Where the ``rkc`` command finds trytond's configuration.

Production passes a configuration file (``-c`` or ``TRYTOND_CONFIG``) and the
usual ``TRYTOND_*`` environment variables. Without one, the embedded default
is generated under ``var/``: SQLite databases in ``var/db``, the sao desk
from ``.cache/sao`` and the desk on localhost:8000.
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get('RKC_VAR', ROOT / 'var'))
SAO = Path(os.environ.get('RKC_SAO', ROOT / '.cache' / 'sao'))

EMBEDDED = """\
[database]
uri = {uri}
path = {db_path}
language = ru
# The desk is opened with the database in its address; listing would test
# every database of the server, and hang on one a migration keeps locked.
list = False

[web]
listen = localhost:{port}
root = {sao}

[session]
authentications = password
"""


def config_file(path=None, port=8000):
    """The configuration file to use: the given one, $TRYTOND_CONFIG, or the
    embedded default (written anew each call so that it follows the
    environment)."""
    path = path or os.environ.get('TRYTOND_CONFIG')
    if path:
        return str(path)
    VAR.mkdir(parents=True, exist_ok=True)
    db_path = VAR / 'db'
    db_path.mkdir(exist_ok=True)
    embedded = VAR / 'trytond.conf'
    embedded.write_text(EMBEDDED.format(
            uri=os.environ.get('TRYTOND_DATABASE__URI', 'sqlite://'),
            db_path=db_path, port=port, sao=SAO))
    return str(embedded)
