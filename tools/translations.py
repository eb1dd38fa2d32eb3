"""Keep the Russian desk complete: the module's ru.po and sao's ru.json.

    .venv/bin/python tools/translations.py module [-d trtmp] [--check]
    .venv/bin/python tools/translations.py sao [--sao .cache/sao]

``module`` brings a scratch database up to date with the sources (``rkc db
create`` or ``rkc db update``), exports the template of rkc_utilities
through Tryton's own translation export, merges it with
rkc_utilities/locale/ru.po (translations kept, entries whose source text
changed marked fuzzy, vanished entries dropped) and lists what is left to
translate.  With ``--check`` nothing is written and the exit status is 1
when ru.po is not complete.

``sao`` writes sao's locale/ru.json (the format sao fetches at login) from
rkc_utilities/sao/ru.po, because sao's own Russian catalogue is empty.
"""
import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
MODULE = 'rkc_utilities'
MODULE_PO = ROOT / MODULE / 'locale' / 'ru.po'
OVERRIDE_PO = ROOT / MODULE / 'locale' / 'override' / 'ru.po'
SAO_PO = ROOT / MODULE / 'sao' / 'ru.po'
DEFAULT_DATABASE = 'trtmp'
# gettext.js evaluates this expression to pick the plural form.
RUSSIAN_PLURAL_FORMS = (
    'nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : '
    'n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);')
PLACEHOLDER = re.compile(r'%(?:\([^)]*\))?[#0 +-]*\d*(?:\.\d+)?[sdfr%]|%\d+')


def placeholders(text):
    "The sorted format placeholders of a string (Python's and sao's %1)."
    return sorted(p for p in PLACEHOLDER.findall(text or '') if p != '%%')


def export_template(module=MODULE):
    """The translation template of ``module`` as exported by Tryton.

    Runs inside a transaction that the caller rolls back: Tryton collects the
    view strings and exports the source language only when English is the
    default language, so both are set here just for the export."""
    from trytond.ir.translation import INTERNAL_LANG
    from trytond.pool import Pool
    pool = Pool()
    Configuration = pool.get('ir.configuration')
    Translation = pool.get('ir.translation')
    SetTranslations = pool.get('ir.translation.set', type='wizard')

    configuration = Configuration(1)
    if configuration.language != INTERNAL_LANG:
        configuration.language = INTERNAL_LANG
        configuration.save()
        Configuration._get_language_cache.clear()
    session_id, _, _ = SetTranslations.create()
    SetTranslations(session_id).transition_set_()
    SetTranslations.delete(session_id)
    content = Translation.translation_export(INTERNAL_LANG, module)
    return polib.pofile(content.decode('utf-8'))


def export_template_from(database, module=MODULE):
    "The template of ``module`` from ``database``, which is left unchanged."
    from trytond.transaction import Transaction

    from rkc import tryton_job
    tryton_job.pool(database)
    with Transaction().start(database, 0) as transaction:
        try:
            return export_template(module)
        finally:
            transaction.rollback()


def entry_key(entry):
    # Selection and view contexts are shared by several strings.
    return entry.msgctxt, entry.msgid


def is_translated(entry):
    if 'fuzzy' in entry.flags:
        return False
    if entry.msgid_plural:
        return bool(entry.msgstr_plural) and all(
            entry.msgstr_plural.values())
    return bool(entry.msgstr)


@dataclass
class Merge:
    "The merged catalogue and what the maintainer has to look at."
    pofile: polib.POFile
    changed: list = field(default_factory=list)
    dropped: list = field(default_factory=list)

    @property
    def untranslated(self):
        return [e for e in self.pofile if not is_translated(e)]


def merge(template, translated):
    """``template`` with the translations of ``translated``.

    An entry whose context is unique but whose source text changed keeps
    its old translation marked fuzzy, for the translator to revise."""
    by_key = {entry_key(e): e for e in translated if not e.obsolete}
    contexts = {}
    for entry in template:
        contexts.setdefault(entry.msgctxt, []).append(entry)
    by_context = {e.msgctxt: e for e in translated
        if not e.obsolete and len(contexts.get(e.msgctxt, ())) == 1}

    result = Merge(polib.POFile(wrapwidth=78))
    result.pofile.metadata = dict(template.metadata)
    used = set()
    for entry in template:
        entry = polib.POEntry(msgctxt=entry.msgctxt, msgid=entry.msgid,
            msgid_plural=entry.msgid_plural, msgstr='',
            msgstr_plural={0: ''} if entry.msgid_plural else {},
            flags=[f for f in entry.flags if f != 'fuzzy'])
        old = by_key.get(entry_key(entry))
        if old is None and len(contexts[entry.msgctxt]) == 1:
            old = by_context.get(entry.msgctxt)
            if old is not None and old.msgstr:
                entry.flags.append('fuzzy')
                result.changed.append((old, entry))
        if old is not None:
            used.add(entry_key(old))
            entry.msgstr = old.msgstr
            if entry.msgid_plural and old.msgstr_plural:
                entry.msgstr_plural = dict(old.msgstr_plural)
            if 'fuzzy' in old.flags and 'fuzzy' not in entry.flags:
                entry.flags.append('fuzzy')
        result.pofile.append(entry)
    result.dropped = [e for e in translated
        if not e.obsolete and entry_key(e) not in used]
    result.pofile.sort()
    return result


def configure(config=None):
    "Load the trytond configuration of ``rkc``; return its file name."
    from rkc import settings, tryton_job
    conf = settings.config_file(config)
    tryton_job.configure(conf)
    return conf


def recreate_database(database, conf):
    """Create the scratch database anew: an updated one keeps the models
    and fields the module no longer has, and they would be exported."""
    from trytond import backend
    from trytond.transaction import Transaction
    if database in backend.Database().list():
        with Transaction().start(
                None, 0, close=True, autocommit=True) as transaction:
            transaction.database.drop(transaction.connection, database)
    subprocess.run([sys.executable, '-m', 'rkc.cli', '-c', conf,
            '-d', database, 'db', 'create'], check=True, cwd=ROOT)


def describe(entry):
    return f'  {entry.msgctxt}  {entry.msgid!r}'


def module_command(args):
    conf = configure(args.config)
    if not args.no_update:
        recreate_database(args.database, conf)
    template = export_template_from(args.database)
    existing = (polib.pofile(str(args.po)) if args.po.exists()
        else polib.POFile())
    result = merge(template, existing)
    for title, entries in [
            ('Source text changed (translation kept, marked fuzzy):',
                [new for _, new in result.changed]),
            ('Dropped (no longer in the module):', result.dropped),
            ('Untranslated:', result.untranslated),
            ]:
        if entries:
            print(title)
            print('\n'.join(describe(e) for e in entries))
    print(f'{len(result.pofile)} entries, '
        f'{len(result.untranslated)} to translate.')
    complete = not (result.untranslated or result.dropped)
    if args.check:
        return 0 if complete else 1
    args.po.parent.mkdir(parents=True, exist_ok=True)
    result.pofile.save(str(args.po))
    return 0


def sao_catalogue(pofile):
    "sao's JSON catalogue (Jed format) of a po file."
    catalogue = {'': {
            'content-type': 'text/plain; charset=utf-8',
            'language': 'ru',
            'plural-forms': RUSSIAN_PLURAL_FORMS,
            }}
    for entry in pofile:
        if not is_translated(entry):
            continue
        if entry.msgid_plural:
            forms = [entry.msgstr_plural[i]
                for i in sorted(entry.msgstr_plural)]
            catalogue[entry.msgid] = [entry.msgid_plural, *forms]
        else:
            catalogue[entry.msgid] = [None, entry.msgstr]
    return catalogue


def sao_command(args):
    catalogue = sao_catalogue(polib.pofile(str(args.po)))
    target = args.sao / 'locale' / 'ru.json'
    target.write_text(json.dumps(catalogue, ensure_ascii=False),
        encoding='utf-8')
    print(f'{target}: {len(catalogue) - 1} strings')
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    module = commands.add_parser('module',
        help='merge the template of rkc_utilities into ru.po')
    module.add_argument('-d', '--database', default=DEFAULT_DATABASE,
        help='scratch database (default: %(default)s)')
    module.add_argument('-c', '--config',
        help='trytond configuration (default: the one of rkc)')
    module.add_argument('--po', type=Path, default=MODULE_PO)
    module.add_argument('--no-update', action='store_true',
        help='export from the database as it is')
    module.add_argument('--check', action='store_true',
        help='write nothing; exit 1 when ru.po is incomplete')
    module.set_defaults(run=module_command)
    sao = commands.add_parser('sao', help="write sao's locale/ru.json")
    sao.add_argument('--sao', type=Path, default=ROOT / '.cache' / 'sao',
        help='the sao directory (default: %(default)s)')
    sao.add_argument('--po', type=Path, default=SAO_PO)
    sao.set_defaults(run=sao_command)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == '__main__':
    sys.exit(main())
