"""The Russian desk: rkc_utilities/locale/ru.po is complete and loads, the
overrides of other modules' strings load, sao's catalogue is sound."""
import importlib.util
import json
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAO = ROOT / '.cache' / 'sao'


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'translations_tool', ROOT / 'tools' / 'translations.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def catalogue(path):
    return polib.pofile(str(path))


def module_locale(module):
    "The directory of an installed Tryton module's translations."
    if module in {'ir', 'res'}:
        spec = importlib.util.find_spec(f'trytond.{module}')
    else:
        spec = importlib.util.find_spec(f'trytond.modules.{module}')
    return Path(spec.origin).parent / 'locale'


def overridden(entry):
    """The module whose string an override entry replaces, and the key of
    that string in the module's own catalogue."""
    kind, name, res_id = entry.msgctxt.split(':')
    module, fs_id = res_id.split('.', 1)
    return module, (f'{kind}:{name}:{fs_id}', entry.msgid)


def dependencies(module):
    "``module`` and every module it depends on, directly or not."
    from trytond.modules import get_module_info
    found = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(get_module_info(name).get('depends', []))
    return found


def all_entries():
    return [(path, entry)
        for path in [tool.MODULE_PO, tool.OVERRIDE_PO, tool.SAO_PO]
        for entry in catalogue(path)]


@pytest.mark.parametrize('path', [tool.MODULE_PO, tool.OVERRIDE_PO,
        tool.SAO_PO], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_entry_translated(path):
    pofile = catalogue(path)
    assert len(pofile) > 0
    assert [e.msgid for e in pofile if not tool.is_translated(e)] == []
    assert pofile.obsolete_entries() == []


def test_placeholders_kept():
    for path, entry in all_entries():
        expected = tool.placeholders(entry.msgid)
        if entry.msgid_plural:
            translations = entry.msgstr_plural.values()
        else:
            translations = [entry.msgstr]
        for translation in translations:
            assert tool.placeholders(translation) == expected, (
                path.name, entry.msgid, translation)


def test_placeholders_found():
    # The test above means something only if placeholders are recognised.
    assert tool.placeholders(
        'Meter "%(meter)s" on %(date)s: %s of %1 (100%%)') == [
        '%(date)s', '%(meter)s', '%1', '%s']


def test_override_entries_exist_in_their_module():
    """Tryton fails the module update when an override names a string that
    the overridden module's ru.po does not load, or a module that is not a
    dependency (loaded later, it would undo the override)."""
    allowed = dependencies(tool.MODULE) - {tool.MODULE}
    loaded = {}
    for entry in catalogue(tool.OVERRIDE_PO):
        module, key = overridden(entry)
        assert module in allowed, entry.msgctxt
        if module not in loaded:
            loaded[module] = {tool.entry_key(e)
                for e in catalogue(module_locale(module) / 'ru.po')}
        assert key in loaded[module], entry.msgctxt


def test_merge_keeps_marks_and_drops():
    template = polib.POFile()
    translated = polib.POFile()
    for msgctxt, msgid in [('field:rkc.x,a:', 'A'), ('field:rkc.x,b:', 'B'),
            ('selection:rkc.x,c:', 'One'), ('selection:rkc.x,c:', 'Two')]:
        template.append(polib.POEntry(msgctxt=msgctxt, msgid=msgid))
    for msgctxt, msgid, msgstr in [
            ('field:rkc.x,a:', 'A', 'А'),
            ('field:rkc.x,b:', 'Old B', 'Б'),
            ('selection:rkc.x,c:', 'One', 'Один'),
            ('selection:rkc.x,c:', 'Three', 'Три'),
            ('field:rkc.x,gone:', 'Gone', 'Нет')]:
        translated.append(polib.POEntry(
                msgctxt=msgctxt, msgid=msgid, msgstr=msgstr))
    result = tool.merge(template, translated)
    merged = {tool.entry_key(e): (e.msgstr, 'fuzzy' in e.flags)
        for e in result.pofile}
    assert merged == {
        ('field:rkc.x,a:', 'A'): ('А', False),
        ('field:rkc.x,b:', 'B'): ('Б', True),
        ('selection:rkc.x,c:', 'One'): ('Один', False),
        ('selection:rkc.x,c:', 'Two'): ('', False),
        }
    assert [e.msgid for e in result.untranslated] == ['B', 'Two']
    assert sorted(e.msgid for e in result.dropped) == ['Gone', 'Three']


def _import_russian(modules):
    "Load the Russian catalogues of ``modules`` the way a module update does."
    from trytond.modules import create_graph
    from trytond.pool import Pool
    Translation = Pool().get('ir.translation')
    for node in create_graph(modules):
        locale = module_locale(node.name) if node.name != tool.MODULE else (
            tool.MODULE_PO.parent)
        files = [str(p) for p in [locale / 'ru.po', locale / 'override' /
                'ru.po'] if p.exists()]
        Translation.translation_import('ru', node.name, files)


@pytest.fixture(scope='module')
def database():
    from trytond.tests.test_tryton import activate_module
    activate_module(tool.MODULE)


def test_module_po_matches_template(database):
    "ru.po has exactly the entries Tryton exports for the module."
    from trytond.tests.test_tryton import with_transaction

    @with_transaction()
    def template():
        return tool.export_template()

    result = tool.merge(template(), catalogue(tool.MODULE_PO))
    assert [tool.describe(e) for e in result.untranslated] == []
    assert [tool.describe(e) for e in result.dropped] == []


def test_translations_load(database):
    """The module's and the override catalogues load, and the desk shows
    their strings in Russian."""
    from trytond.pool import Pool
    from trytond.tests.test_tryton import with_transaction
    from trytond.transaction import Transaction

    @with_transaction()
    def labels():
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        Menu = pool.get('ir.ui.menu')
        Premise = pool.get('rkc.premise')
        _import_russian(dependencies(tool.MODULE))
        with Transaction().set_context(language='ru'):
            menus = [Menu(ModelData.get_id(module, fs_id)).name
                for module, fs_id in [('rkc_utilities', 'menu_premise_form'),
                    ('party', 'menu_party'),
                    ('ir', 'menu_administration')]]
            fields = Premise.fields_get(['total_area'])
        return menus, fields['total_area']['string']

    menus, total_area = labels()
    assert menus == ['Помещения', 'Контрагенты', 'Администрирование']
    assert total_area == 'Общая площадь'


@pytest.fixture
def sao_messages():
    template = SAO / 'locale' / 'messages.pot'
    if not template.exists():
        pytest.skip('sao is not downloaded (make .cache/sao/index.html)')
    return {e.msgid: e for e in catalogue(template)}


def test_sao_catalogue_covers_sao_messages(sao_messages):
    ours = {e.msgid: e for e in catalogue(tool.SAO_PO)}
    assert sorted(set(ours) - set(sao_messages)) == []
    assert sorted(set(sao_messages) - set(ours)) == []
    for msgid, entry in ours.items():
        assert entry.msgid_plural == sao_messages[msgid].msgid_plural


def test_sao_json(tmp_path, sao_messages):
    (tmp_path / 'locale').mkdir()
    assert tool.main(['sao', '--sao', str(tmp_path)]) == 0
    written = json.loads(
        (tmp_path / 'locale' / 'ru.json').read_text(encoding='utf-8'))
    assert written['']['plural-forms'].startswith('nplurals=3;')
    assert written['Save'] == [None, 'Сохранить']
    plural = written['%1 record saved']
    assert plural[0] == '%1 records saved'
    assert len(plural) == 4 and all(plural[1:])
    assert len(written) - 1 == len(sao_messages)
