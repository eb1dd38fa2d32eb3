# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The SMS gateway's delivery reports: POST
``/<database>/rkc/notification/sms-report?secret=…`` with JSON (or form
fields) ``id``, ``status`` and optionally ``error``. The secret is trytond's
``[rkc] sms_report_secret``; without one configured every report is
refused."""
import hmac
from http import HTTPStatus

from werkzeug.exceptions import abort

from trytond import config
from trytond.protocols.wrappers import (
    Response, with_pool, with_transaction)
from trytond.wsgi import app


@app.route('/<database_name>/rkc/notification/sms-report', methods=['POST'])
@with_pool
@with_transaction()
def sms_report(request, pool):
    secret = config.get('rkc', 'sms_report_secret', default=None)
    given = request.args.get('secret', '')
    if not secret or not hmac.compare_digest(
            secret.encode(), given.encode()):
        abort(HTTPStatus.FORBIDDEN)
    try:
        Message = pool.get('rkc.notification.message')
    except KeyError:
        # The route serves every database; this one lacks the module.
        abort(HTTPStatus.NOT_FOUND)
    report = request.get_json(silent=True) if request.is_json \
        else request.form
    if not isinstance(report, dict) or not report.get('id') \
            or not report.get('status'):
        abort(HTTPStatus.BAD_REQUEST, 'a report needs "id" and "status"')
    if not Message.delivery_report(str(report['id']), report['status'],
            error=report.get('error')):
        # The gateway may report before our transaction that sent the
        # message committed: it retries on an error.
        abort(HTTPStatus.NOT_FOUND)
    return Response(status=HTTPStatus.NO_CONTENT)
