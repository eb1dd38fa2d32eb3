"""Flat OpenDocument (.fodt, one XML file that LibreOffice opens and saves
and that diffs well in git) packaged as the zipped .odt that relatorio and
Tryton's reports render."""
import io
import zipfile

from lxml import etree

OFFICE = 'urn:oasis:names:tc:opendocument:xmlns:office:1.0'
MANIFEST = 'urn:oasis:names:tc:opendocument:xmlns:manifest:1.0'
# The part of the package each top-level element of the flat file goes to.
PARTS = {
    'content.xml': ('document-content', (
            'scripts', 'font-face-decls', 'automatic-styles', 'body')),
    'styles.xml': ('document-styles', (
            'font-face-decls', 'styles', 'automatic-styles',
            'master-styles')),
    'meta.xml': ('document-meta', ('meta',)),
    'settings.xml': ('document-settings', ('settings',)),
    }


def _part(flat, root_name, children):
    root = etree.Element(f'{{{OFFICE}}}{root_name}', nsmap=flat.nsmap)
    root.set(f'{{{OFFICE}}}version', flat.get(f'{{{OFFICE}}}version', '1.3'))
    for name in children:
        for element in flat.findall(f'{{{OFFICE}}}{name}'):
            root.append(_copy(element))
    return etree.tostring(root, xml_declaration=True, encoding='UTF-8')


def _copy(element):
    return etree.fromstring(etree.tostring(element))


def _manifest(mimetype, parts):
    root = etree.Element(f'{{{MANIFEST}}}manifest', nsmap={
            'manifest': MANIFEST})
    root.set(f'{{{MANIFEST}}}version', '1.3')
    for path, media_type in [('/', mimetype)] + [
            (part, 'text/xml') for part in parts]:
        entry = etree.SubElement(root, f'{{{MANIFEST}}}file-entry')
        entry.set(f'{{{MANIFEST}}}full-path', path)
        entry.set(f'{{{MANIFEST}}}media-type', media_type)
    return etree.tostring(root, xml_declaration=True, encoding='UTF-8')


def package(flat_xml):
    "The .odt (bytes) of a flat OpenDocument text (bytes)."
    flat = etree.fromstring(flat_xml)
    mimetype = flat.get(f'{{{OFFICE}}}mimetype',
        'application/vnd.oasis.opendocument.text')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as odt:
        # The mimetype comes first and uncompressed (ODF 1.3 part 2, 3.3).
        odt.writestr('mimetype', mimetype, compress_type=zipfile.ZIP_STORED)
        for path, (root_name, children) in PARTS.items():
            odt.writestr(path, _part(flat, root_name, children))
        odt.writestr('META-INF/manifest.xml', _manifest(mimetype, PARTS))
    return buffer.getvalue()
