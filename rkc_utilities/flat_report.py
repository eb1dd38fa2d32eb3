# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Reports whose templates are flat OpenDocument files (.fodt): lawyers
edit them in LibreOffice, git diffs them; they are packaged as .odt for
relatorio when first rendered."""
from io import BytesIO

from relatorio.templates.opendocument import Template

from trytond.pool import Pool
from trytond.report import Report
from trytond.transaction import Transaction

from rkc.documents.flat_odf import package


def money(value):
    "Roubles as written in Russian documents: 12 345,67."
    return f'{value or 0:,.2f}'.replace(',', '\u00a0').replace('.', ',')


def day(value):
    return value.strftime('%d.%m.%Y') if value else ''


class FlatReport(Report):
    "Renders a .fodt template like an .odt one."

    @classmethod
    def get_context(cls, records, header, data):
        context = super().get_context(records, header, data)
        company = Transaction().context.get('company')
        context['company'] = Pool().get('company.company')(company) \
            if company else None
        context['money'] = money
        context['day'] = day
        return context

    @classmethod
    def render(cls, report, report_context):
        if report.get_template_cached() is None \
                and (report.report or '').endswith('.fodt'):
            report.set_template_cached(
                Template(BytesIO(package(report.report_content))))
        return super().render(report, report_context)
