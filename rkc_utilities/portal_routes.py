# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""Routes of the consumers' portal under /<database>/portal/ and the phone
centre's lookup under /<database>/rkc/phone/.

Every route that names an account, a meter or a period finds it through
the web user's own links: anything else is "not found", whether it exists
or not."""
import datetime as dt
import hmac
import json
import re
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from functools import wraps
from secrets import token_hex

from werkzeug.exceptions import NotFound

import trytond.config as config
from trytond.exceptions import RateLimitException
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.protocols.wrappers import (
    HTTPStatus, Response, abort, redirect, user_application, with_pool,
    with_transaction)
from trytond.transaction import Transaction, without_check_access
from trytond.wsgi import app

from rkc.documents import from_ledger, qr_symbol
from rkc.engine.dated import add_months
from rkc.engine.errors import CalculationError
from rkc.engine.recalculation import absence_policies
from rkc.engine.regulations import default_regulations

from . import portal_pages as pages
from .receipt import receipts_pdf

SESSION_COOKIE = 'rkc_portal'
CSRF_COOKIE = 'rkc_portal_csrf'
CONTEXT = {'language': 'ru'}
HISTORY_MONTHS = 36
RECEIPT_MONTHS = 12
PASSWORD_LENGTH = 8
# A syntax check only: whether the mailbox exists the confirmation mail
# tells (trytond's own check needs DNS and an optional package).
# No control characters: PostgreSQL refuses NUL, mail servers the rest.
EMAIL = re.compile(
    r'[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]+')
UPLOAD_LIMIT = 5 * 1024 * 1024
# Room for the form fields around the largest file allowed: a larger body
# is refused by the server before the route sees it.
REQUEST_LIMIT = UPLOAD_LIMIT + 512 * 1024
UPLOAD_TYPES = (
    (b'%PDF-', 'application/pdf', 'pdf'),
    (b'\xff\xd8\xff', 'image/jpeg', 'jpg'),
    (b'\x89PNG\r\n\x1a\n', 'image/png', 'png'),
    )
SECURITY_HEADERS = {
    'Cache-Control': 'no-store',
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
    'Content-Security-Policy': "default-src 'none'; style-src "
    "'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
    }


class Portal:
    "What a portal request knows: its database, its user, its CSRF token."

    def __init__(self, request, pool):
        self.request = request
        self.pool = pool
        try:
            pool.get('rkc.portal.link')
        except KeyError:
            # Routes are process-wide; the database may lack the module.
            abort(HTTPStatus.NOT_FOUND)
        self.base = f'{request.script_root}/{pool.database_name}/portal'
        self._csrf_cookie = request.cookies.get(CSRF_COOKIE)
        self.csrf = self._csrf_cookie or token_hex(16)
        self.session = request.cookies.get(SESSION_COOKIE)
        self.user = None
        if self.session:
            self.user = pool.get('web.user').get_user(self.session)

    @property
    def url(self):
        "The absolute URL of the portal, for the links in mails."
        return self.request.host_url.rstrip('/') + self.base

    def csrf_valid(self):
        sent = self.request.form.get('csrf', '')
        return bool(self._csrf_cookie) and hmac.compare_digest(
            sent, self._csrf_cookie)

    def respond(self, body, status=HTTPStatus.OK,
            content_type='text/html; charset=utf-8', headers=None):
        response = Response(body, status, content_type=content_type,
            headers={**SECURITY_HEADERS, **(headers or {})})
        return self.finish(response)

    def finish(self, response):
        if not self._csrf_cookie:
            response.set_cookie(CSRF_COOKIE, self.csrf, path=self.base,
                httponly=True, samesite='Strict',
                secure=self.request.is_secure)
        return response

    def redirect(self, path=''):
        return self.finish(redirect(self.base + path, HTTPStatus.SEE_OTHER))

    def page(self, renderer, *args, status=HTTPStatus.OK, **kwargs):
        return self.respond(
            renderer(self.base, self.csrf, *args, **kwargs), status)

    def account(self, account_id):
        "The account if linked to the user; not found otherwise."
        Link = self.pool.get('rkc.portal.link')
        links = Link.search([
                ('web_user', '=', self.user.id),
                ('account', '=', account_id),
                ], limit=1)
        if not links:
            raise NotFound()
        return links[0].account


def portal_route(path, methods=('GET',), login=True, readonly=None,
        max_size=None):
    """Register a portal route: the function gets the Portal (and the
    linked account for an ``account_id`` in the path); forms posted without
    the CSRF token are refused."""
    def decorator(func):
        @wraps(func)
        def endpoint(request, pool, **kwargs):
            portal = Portal(request, pool)
            if request.method == 'POST' and not portal.csrf_valid():
                return portal.page(lambda b, c: pages.message(
                        b, 'Форма устарела', 'Обновите страницу и '
                        'отправьте форму ещё раз.', error=True),
                    status=HTTPStatus.BAD_REQUEST)
            if login:
                if portal.user is None:
                    return portal.redirect('/login')
                try:
                    if 'account_id' in kwargs:
                        kwargs['account'] = portal.account(
                            kwargs.pop('account_id'))
                    return func(portal, **kwargs)
                except NotFound:
                    return portal.page(lambda b, c: pages.message(
                            b, 'Не найдено', 'Такой страницы нет.',
                            error=True), status=HTTPStatus.NOT_FOUND)
            return func(portal, **kwargs)
        registered = with_pool(with_transaction(
                readonly=readonly, context=CONTEXT)(endpoint))
        if max_size:
            registered.max_request_size = max_size
        app.route(f'/<database_name>/portal{path}',
            methods=list(methods))(registered)
        return func
    return decorator


@portal_route('/')
def index(portal, **messages):
    Link = portal.pool.get('rkc.portal.link')
    return portal.page(pages.accounts, portal.user, Link.accounts(
            portal.user), **messages)


@portal_route('/login', methods=('GET', 'POST'), login=False)
def login(portal):
    request = portal.request
    if request.method == 'GET':
        return portal.page(pages.login)
    WebUser = portal.pool.get('web.user')
    email = request.form.get('email', '').strip()
    try:
        user = WebUser.authenticate(email, request.form.get('password', ''))
    except RateLimitException:
        return portal.page(pages.login, email=email,
            error='Слишком много неудачных попыток входа. Попробуйте позже.',
            status=HTTPStatus.TOO_MANY_REQUESTS)
    if user is None:
        return portal.page(pages.login, email=email,
            error='Неверный адрес электронной почты или пароль.',
            status=HTTPStatus.UNAUTHORIZED)
    if not user.email_valid:
        return portal.page(pages.login, email=email,
            error='Сначала подтвердите адрес по ссылке из письма.',
            status=HTTPStatus.FORBIDDEN)
    response = portal.redirect('/')
    response.set_cookie(SESSION_COOKIE, user.new_session(),
        path=portal.base, httponly=True, samesite='Lax',
        secure=portal.request.is_secure)
    return response


@portal_route('/logout', methods=('POST',))
def logout(portal):
    portal.pool.get('web.user.session').remove(portal.session)
    response = portal.redirect('/login')
    response.delete_cookie(SESSION_COOKIE, path=portal.base)
    return response


def _password_error(password, email, confirmation=None):
    if len(password) < PASSWORD_LENGTH:
        return f'Пароль должен быть не короче {PASSWORD_LENGTH} знаков.'
    if password.lower() == email.lower():
        return 'Пароль не должен совпадать с адресом почты.'
    if confirmation is not None and password != confirmation:
        return 'Пароли не совпадают.'


@portal_route('/register', methods=('GET', 'POST'), login=False)
def register(portal):
    request = portal.request
    if request.method == 'GET':
        return portal.page(pages.register)
    WebUser = portal.pool.get('web.user')
    email = request.form.get('email', '').strip().lower()
    password = request.form.get('password', '')
    if not EMAIL.fullmatch(email):
        return portal.page(pages.register, email=email,
            error='Введите адрес электронной почты, например '
            'ivanov@example.ru.', status=HTTPStatus.BAD_REQUEST)
    error = _password_error(
        password, email, request.form.get('password2', ''))
    if error:
        return portal.page(pages.register, email=email, error=error,
            status=HTTPStatus.BAD_REQUEST)
    users = WebUser.search([('email', '=', email)])
    if not users:
        users = WebUser.create([{'email': email, 'password': password}])
    # A known address gets the same answer, so the form tells nobody who
    # is registered; only an unconfirmed one is mailed again.
    users = [u for u in users if not u.email_valid]
    with Transaction().set_context(
            portal_validation_url=f'{portal.url}/verify'):
        WebUser.validate_email(users)
    return portal.page(lambda b, c: pages.message(b, 'Проверьте почту',
            f'Мы отправили письмо на {email}. Откройте ссылку из него, '
            'чтобы подтвердить адрес, затем войдите.'))


@portal_route('/verify', login=False, readonly=False)
def verify(portal):
    WebUser = portal.pool.get('web.user')
    token = portal.request.args.get('token', '')
    if token and WebUser.validate_email_token([token]):
        return portal.page(pages.login,
            notice='Адрес подтверждён. Войдите с вашим паролем.')
    return portal.page(lambda b, c: pages.message(b, 'Ссылка не действует',
            'Ссылка устарела или уже использована.', error=True),
        status=HTTPStatus.NOT_FOUND)


@portal_route('/reset', methods=('GET', 'POST'), login=False)
def reset(portal):
    if portal.request.method == 'GET':
        return portal.page(pages.reset_request)
    WebUser = portal.pool.get('web.user')
    email = portal.request.form.get('email', '').strip().lower()
    users = WebUser.search(
        [('email', '=', email), ('email_valid', '=', True)])
    with Transaction().set_context(
            portal_reset_url=f'{portal.url}/reset/password'):
        WebUser.reset_password(users)
    return portal.page(lambda b, c: pages.message(b, 'Проверьте почту',
            'Если адрес зарегистрирован, на него отправлена ссылка для '
            'нового пароля.'))


@portal_route('/reset/password', methods=('GET', 'POST'), login=False)
def reset_password(portal):
    request = portal.request
    values = request.args if request.method == 'GET' else request.form
    email, token = values.get('email', ''), values.get('token', '')
    if request.method == 'GET':
        return portal.page(pages.reset_password, email, token)
    password = request.form.get('password', '')
    error = _password_error(password, email)
    if error:
        return portal.page(pages.reset_password, email, token, error=error,
            status=HTTPStatus.BAD_REQUEST)
    WebUser = portal.pool.get('web.user')
    if not WebUser.set_password_token(email, token, password):
        return portal.page(lambda b, c: pages.message(b,
                'Ссылка не действует', 'Ссылка устарела или уже '
                'использована. Запросите новую.', error=True),
            status=HTTPStatus.BAD_REQUEST)
    return portal.page(pages.login, email=email,
        notice='Пароль изменён. Войдите с новым паролем.')


def _locked(key):
    "Too many failed proofs for ``key`` within the session timeout."
    Attempt = Pool().get('rkc.portal.attempt')
    with without_check_access():
        return Attempt.count(key) > config.getint(
            'session', 'max_attempt', default=5)


def _failed(key, failed):
    "Count a failed proof against ``key``; a good one clears its count."
    Attempt = Pool().get('rkc.portal.attempt')
    with without_check_access():
        (Attempt.add if failed else Attempt.remove)(key)


@portal_route('/link', methods=('POST',))
def link(portal):
    Link = portal.pool.get('rkc.portal.link')
    number = re.sub(r'\s', '', portal.request.form.get('number', ''))
    code = re.sub(r'[\s-]', '', portal.request.form.get('code', ''))
    # Codes are short enough to guess without a limit.
    key = f'link:{portal.user.id}'
    if _locked(key):
        return portal.page(pages.accounts, portal.user,
            Link.accounts(portal.user), number=number,
            error='Слишком много неверных кодов. Попробуйте позже.',
            status=HTTPStatus.TOO_MANY_REQUESTS)
    account = Link.link(portal.user, number, code)
    _failed(key, account is None)
    if account is None:
        return portal.page(pages.accounts, portal.user,
            Link.accounts(portal.user), number=number,
            error='Счёт не найден или код не подходит. Проверьте номер '
            'лицевого счёта и код подключения на последней квитанции.',
            status=HTTPStatus.BAD_REQUEST)
    return portal.page(pages.accounts, portal.user,
        Link.accounts(portal.user),
        notice=f'Лицевой счёт {account.number} подключён.')


def _ledger(account, since):
    "(kind, period, date, amount) of the account's lines since a month."
    Line = Pool().get('rkc.ledger.line')
    line = Line.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*line.select(line.kind, line.period, line.date,
            line.amount,
            where=(line.account == account.id)
            & ((line.period >= since) | (line.date >= since))))
    return [(kind, from_ledger._date(period), from_ledger._date(date),
            from_ledger._money(amount))
        for kind, period, date, amount in cursor]


def _history(lines, first):
    "Charges and payments by month, oldest first, 36 months to the last."
    charged, paid = defaultdict(Decimal), defaultdict(Decimal)
    for kind, period, date, amount in lines:
        if kind == 'payment':
            paid[date.replace(day=1)] -= amount
        else:
            charged[period] += amount
    months = [add_months(first, n) for n in range(HISTORY_MONTHS)]
    return [(m, charged[m], paid[m]) for m in months]


def _latest_receipt(account):
    start = from_ledger.latest_billed_period([account.id])
    if start is None:
        return None
    receipt, = from_ledger.receipts([account.id], start)
    return receipt


@portal_route('/account/<int:account_id>')
def overview(portal, account):
    receipt = _latest_receipt(account)
    last = receipt.period if receipt else dt.date.today().replace(day=1)
    first = add_months(last, 1 - HISTORY_MONTHS)
    lines = _ledger(account, first)
    periods = sorted({p for k, p, _, _ in lines if k == 'charge'},
        reverse=True)[:RECEIPT_MONTHS]
    return portal.page(pages.overview, portal.user, account,
        account.balance, receipt, _history(lines, first), periods)


@portal_route('/account/<int:account_id>/receipt/<period>.pdf')
def receipt_pdf(portal, account, period):
    try:
        start = dt.datetime.strptime(period, '%Y-%m').date()
    except ValueError:
        raise NotFound() from None
    if start not in {p for k, p, _, _ in _ledger(account, start)
            if k == 'charge'}:
        raise NotFound()
    return portal.respond(receipts_pdf([account.id], start),
        content_type='application/pdf', headers={
            'Content-Disposition': 'attachment; '
            f'filename="epd-{account.number}-{period}.pdf"'})


def qr_svg(symbol):
    "The symbol as SVG: one path, a run of dark modules per subpath."
    quiet = 4
    runs = []
    for y, row in enumerate(symbol.rows):
        for match in re.finditer('1+', row):
            runs.append(f'M{match.start() + quiet} {y + quiet}'
                f'h{len(match.group())}v1h-{len(match.group())}z')
    size = symbol.size + 2 * quiet
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} '
        f'{size}" shape-rendering="crispEdges"><rect width="{size}" '
        f'height="{size}" fill="#fff"/><path d="{"".join(runs)}"/></svg>')


@portal_route('/account/<int:account_id>/qr.svg')
def qr(portal, account):
    receipt = _latest_receipt(account)
    if receipt is None:
        raise NotFound()
    symbol = qr_symbol.encode(receipt.qr_payload().encode('utf-8'))
    return portal.respond(qr_svg(symbol), content_type='image/svg+xml')


@portal_route('/account/<int:account_id>/payments')
def payments(portal, account):
    Line = portal.pool.get('rkc.ledger.line')
    lines = Line.search([
            ('account', '=', account.id), ('kind', '=', 'payment')],
        order=[('date', 'DESC'), ('id', 'DESC')], limit=100)
    return portal.page(pages.payments, portal.user, account,
        [(line.date, -line.amount) for line in lines])


def _meters(account):
    pool = Pool()
    Meter = pool.get('rkc.meter')
    Reading = pool.get('rkc.meter.reading')
    meters = Meter.search([
            ('premise', '=', account.premise.id),
            ('state', '=', 'active'),
            ], order=[('id', 'ASC')])
    result = []
    for meter in meters:
        last = Reading.search([
                ('meter', '=', meter.id), ('state', '=', 'valid')],
            order=[('read_at', 'DESC'), ('id', 'DESC')], limit=1)
        result.append((meter, last[0] if last else None))
    return result


@portal_route('/account/<int:account_id>/readings', methods=('GET', 'POST'))
def readings(portal, account):
    Configuration = portal.pool.get('rkc.configuration')
    Reading = portal.pool.get('rkc.meter.reading')
    window = Configuration(1).reading_days
    open_ = window[0] <= dt.date.today().day <= window[1]
    meters = _meters(account)

    def page(status=HTTPStatus.OK, **kwargs):
        return portal.page(pages.readings, portal.user, account,
            _meters(account), window, open_, status=status, **kwargs)

    if portal.request.method == 'GET':
        return page()
    form = portal.request.form
    by_id = {str(m.id): m for m, _ in meters}
    meter = by_id.get(form.get('meter', ''))
    if meter is None:
        raise NotFound()
    if not open_:
        return page(error=f'Показания принимаются с {window[0]} по '
            f'{window[1]} число месяца. Сейчас приём закрыт, показание не '
            'сохранено.', status=HTTPStatus.BAD_REQUEST)
    names = [f'value{z}-{meter.id}' for z in range(1, meter.zones + 1)]
    try:
        values = [Decimal(form.get(name, '').replace(' ', '').replace(
                    ',', '.')) for name in names]
    except InvalidOperation:
        values = None
    if not values or any(not v.is_finite() or v < 0 for v in values):
        return page(values=form, error='Введите показание числом, например '
            '123,456. Показание не сохранено.', status=HTTPStatus.BAD_REQUEST)
    reading = Reading(meter=meter, source='portal',
        read_at=dt.datetime.now(dt.UTC).replace(
            tzinfo=None, microsecond=0),
        **dict(zip(('value', 'value_t2', 'value_t3'),
                values + [None] * (3 - len(values)), strict=True)))
    judged = reading.verdict()
    shown = ' / '.join(pages._decimal(v) for v in values)
    if judged.state != 'valid':
        previous = reading.previous()
        before = (' Последнее принятое показание: ' + ' / '.join(
                pages._decimal(v) for v in previous.values)
            + '.') if previous else ''
        return page(values=form, status=HTTPStatus.BAD_REQUEST,
            error=f'Показание {shown} не принято: '
            f'{pages.EXPLAINED.get(judged.reason, judged.reason)}.{before} '
            'Проверьте число; если оно верное, обратитесь в РКЦ.')
    reading.save()
    used = (' Расход с прошлого показания: ' + ' / '.join(
            pages._decimal(v) for v in judged.consumption) + '.') \
        if judged.consumption else ''
    return page(notice=f'Показание {shown} прибора № {meter.serial} '
        f'принято.{used}')


def _applications(account):
    Recalculation = Pool().get('rkc.recalculation')
    return Recalculation.search([
            ('account', '=', account.id),
            ('reason', '=', 'temporary_absence'),
            ], order=[('id', 'DESC')], limit=20)


def _upload_error(upload):
    "Why the uploaded file is refused, or its (bytes, extension)."
    if upload is None or not upload.filename:
        return 'Приложите подтверждающий документ.', None
    data = upload.stream.read(UPLOAD_LIMIT + 1)
    if len(data) > UPLOAD_LIMIT:
        return 'Файл больше 5 МБ. Уменьшите его или сохраните в PDF.', None
    for magic, _, extension in UPLOAD_TYPES:
        if data.startswith(magic):
            return None, (data, extension)
    return 'Файл должен быть в формате PDF, JPEG или PNG.', None


def _absence_error(departure, return_date, today):
    if return_date <= departure:
        return 'Дата возвращения должна быть позже даты отъезда.'
    policies = absence_policies()
    try:
        policy = policies.on(departure)
    except CalculationError:
        return ('Перерасчёт за отсутствие делается с '
            f'{policies.changes()[0]:%d.%m.%Y}.')
    days = (return_date - departure).days - 1
    if days <= policy.more_than_days:
        return (f'Полных дней отсутствия: {days}. Перерасчёт делается за '
            f'отсутствие больше {policy.more_than_days} полных дней подряд '
            '(дни отъезда и возвращения не считаются).')
    # Compared as a difference: a return date at the calendar's end has
    # no deadline date.
    if (today - return_date).days > policy.application_days_after_return:
        deadline = return_date + dt.timedelta(
            days=policy.application_days_after_return)
        return ('Заявление принимается не позднее '
            f'{policy.application_days_after_return} дней после '
            f'возвращения, то есть до {deadline:%d.%m.%Y}.')


@portal_route('/account/<int:account_id>/absence', methods=('GET', 'POST'),
    max_size=REQUEST_LIMIT)
def absence(portal, account):
    pool = portal.pool
    Recalculation = pool.get('rkc.recalculation')
    Attachment = pool.get('ir.attachment')
    form = portal.request.form

    def page(status=HTTPStatus.OK, **kwargs):
        return portal.page(pages.absence, portal.user, account,
            _applications(account), status=status, **kwargs)

    if portal.request.method == 'GET':
        return page()
    try:
        departure = dt.date.fromisoformat(form.get('departure', ''))
        return_date = dt.date.fromisoformat(form.get('return_date', ''))
    except ValueError:
        return page(values=form, status=HTTPStatus.BAD_REQUEST,
            error='Укажите даты отъезда и возвращения.')
    today = dt.date.today()
    error = _absence_error(departure, return_date, today)
    if not error:
        error, document = _upload_error(
            portal.request.files.get('document'))
    if error:
        return page(values=form, status=HTTPStatus.BAD_REQUEST,
            error=error + ' Заявление не подано.')
    data, extension = document
    recalculation, = Recalculation.create([{
                'scope': 'account',
                'account': account.id,
                'reason': 'temporary_absence',
                'period_from': departure.replace(day=1),
                'period_to': return_date.replace(day=1),
                'departure': departure,
                'return_date': return_date,
                'applied_on': today,
                'application': True,
                'documents': True,
                'description': gettext(
                    'rkc_utilities.msg_portal_absence_description',
                    email=portal.user.email),
                }])
    Attachment.create([{
                'resource': str(recalculation),
                'name': f'absence-{recalculation.id}.{extension}',
                'type': 'data',
                'data': data,
                }])
    return page(notice='Заявление принято. Перерасчёт будет сделан после '
        'проверки документов; результат появится в квитанции.')


@portal_route('/account/<int:account_id>/notifications',
    methods=('GET', 'POST'))
def notifications(portal, account):
    if portal.request.method == 'GET':
        return portal.page(pages.notifications, portal.user, account)
    form = portal.request.form
    email = form.get('email', '').strip().lower()
    phone = re.sub(r'[\s()-]', '', form.get('phone', ''))
    consents = {name: bool(form.get(name))
        for name in ('email_consent', 'sms_consent', 'call_consent')}
    error = None
    if email and not EMAIL.fullmatch(email):
        error = 'Адрес электронной почты указан неверно.'
    if phone:
        digits = phone.lstrip('+')
        if not (digits.isascii() and digits.isdigit()) or len(digits) != 11 \
                or digits[0] not in '78':
            error = 'Укажите телефон из 11 цифр, например +7 900 123-45-67.'
        else:
            phone = '+7' + digits[1:]
    if consents['email_consent'] and not email:
        error = 'Для писем укажите адрес электронной почты.'
    if (consents['sms_consent'] or consents['call_consent']) and not phone:
        error = 'Для SMS и звонков укажите телефон.'
    if error:
        return portal.page(pages.notifications, portal.user, account,
            error=error + ' Настройки не изменены.',
            status=HTTPStatus.BAD_REQUEST)
    account.email = email or None
    account.phone = phone or None
    for name, value in consents.items():
        setattr(account, name, value)
    account.save()
    return portal.page(pages.notifications, portal.user, account,
        notice='Настройки уведомлений сохранены.')


def _json(data, status=HTTPStatus.OK):
    return Response(json.dumps(data), status,
        content_type='application/json')


@app.route('/<database_name>/rkc/phone/balance', methods=['POST'])
@with_pool
@with_transaction(context=CONTEXT)
@user_application('rkc_phone')
def phone_balance(request, pool):
    """The balance and due date of an account for the phone centre's IVR:
    JSON {"account", "pin"} in; a wrong PIN counts against the account and
    too many lock it for the session timeout."""
    Account = pool.get('rkc.account')
    try:
        data = json.loads(request.get_data(as_text=True) or '{}')
        number, pin = str(data['account']), str(data['pin'])
    except (ValueError, KeyError, TypeError):
        return _json({'error': 'account and pin are required'},
            HTTPStatus.BAD_REQUEST)
    key = f'phone:{number}'
    if _locked(key):
        return _json({'error': 'too many attempts'},
            HTTPStatus.TOO_MANY_REQUESTS)
    # Read with the phone centre user's own access rules.
    accounts = Account.search([('number', '=', number)], limit=1)
    with without_check_access():
        valid = bool(accounts) and accounts[0].check_phone_pin(pin)
    _failed(key, not valid)
    if not valid:
        return _json({'error': 'unknown account or wrong pin'},
            HTTPStatus.FORBIDDEN)
    account, = accounts
    start = from_ledger.latest_billed_period([account.id])
    return _json({
            'account': account.number,
            'balance': str(account.balance),
            'due_date': default_regulations().due_date(start).isoformat()
            if start else None,
            })
