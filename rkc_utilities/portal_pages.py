# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
"""The portal's pages: server-rendered Russian HTML for consumers, usable on
a phone and with a screen reader. Every value goes through Markup.format,
which escapes it."""
from decimal import Decimal

from markupsafe import Markup

from rkc.documents.receipt import money, period_name

CSS = '''
body{font:16px/1.45 system-ui,sans-serif;margin:0;color:#1a1a1a}
header{background:#17456b;color:#fff;padding:.6em 1em;display:flex;
flex-wrap:wrap;gap:.5em 1em;align-items:center}
header a{color:#fff}header form{margin:0 0 0 auto}
main{max-width:46em;margin:0 auto;padding:1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}
label{display:block;margin-top:.8em;font-weight:600}
input,select,button{font:inherit;padding:.45em;max-width:100%}
input[type=text],input[type=email],input[type=password],input[type=date],
input[type=tel]{width:20em}
input[type=checkbox]{width:1.2em;height:1.2em;vertical-align:middle}
label.check{font-weight:400}
button{margin-top:1em;background:#17456b;color:#fff;border:0;
border-radius:4px;padding:.55em 1.2em;cursor:pointer}
header button{margin:0;background:#fff;color:#17456b}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ccc;padding:.3em .4em;text-align:left}
td.num,th.num{text-align:right;white-space:nowrap}
.error{background:#fde8e8;border-left:4px solid #b00020;padding:.6em}
.notice{background:#e6f4ea;border-left:4px solid #1e7d32;padding:.6em}
.balance{font-size:1.4em;font-weight:700}
nav.account a{display:inline-block;margin:.2em .8em .2em 0}
svg{max-width:100%;height:auto}
:focus{outline:3px solid #f9a825}
'''
EXPLAINED = {
    'negative': 'показание меньше предыдущего',
    'spike': 'слишком большой расход для такого срока — проверьте число',
    'stale': 'показание не менялось несколько месяцев',
    'serial_mismatch': 'номер прибора не совпадает',
    'meter_error': 'прибор сообщает о неисправности',
    }
STATES = {
    'draft': 'принято, ожидает рассмотрения',
    'previewing': 'рассматривается',
    'previewed': 'рассматривается',
    'approved': 'одобрено',
    'posted': 'перерасчёт выполнен',
    }


def layout(title, content, base, csrf='', user=None, error='', notice=''):
    header = Markup('<a href="{}/">Личный кабинет</a>').format(base)
    if user is not None:
        header += Markup(
            '<span>{}</span><form method="post" action="{}/logout">'
            '<input type="hidden" name="csrf" value="{}">'
            '<button type="submit">Выйти</button></form>').format(
            user.email, base, csrf)
    messages = Markup('')
    if error:
        messages += Markup('<p class="error" role="alert">{}</p>').format(
            error)
    if notice:
        messages += Markup('<p class="notice" role="status">{}</p>').format(
            notice)
    return Markup(
        '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, '
        'initial-scale=1"><title>{} — личный кабинет</title>'
        '<style>{}</style></head><body><header>{}</header><main>'
        '<h1>{}</h1>{}{}</main></body></html>').format(
        title, Markup(CSS), header, title, messages, content)


def form(action, csrf, fields, submit, multipart=False):
    enctype = Markup(' enctype="multipart/form-data"') if multipart else ''
    return Markup(
        '<form method="post" action="{}"{}>'
        '<input type="hidden" name="csrf" value="{}">{}'
        '<button type="submit">{}</button></form>').format(
        action, enctype, csrf, Markup('').join(fields), submit)


def field(label, name, kind='text', value='', required=True, **attributes):
    extra = Markup('').join(
        Markup(' {}="{}"').format(k.replace('_', '-'), v)
        for k, v in attributes.items())
    return Markup(
        '<label for="{}">{}</label><input id="{}" name="{}" type="{}" '
        'value="{}"{}{}>').format(name, label, name, name, kind, value,
        Markup(' required') if required else '', extra)


def checkbox(label, name, checked):
    return Markup(
        '<label class="check"><input type="checkbox" name="{}" value="1"{}>'
        ' {}</label>').format(
        name, Markup(' checked') if checked else '', label)


def login(base, csrf, email='', error='', notice=''):
    content = form(f'{base}/login', csrf, [
            field('Электронная почта', 'email', 'email', email,
                autocomplete='username'),
            field('Пароль', 'password', 'password',
                autocomplete='current-password'),
            ], 'Войти')
    content += Markup(
        '<p><a href="{}/register">Регистрация</a> · '
        '<a href="{}/reset">Забыли пароль?</a></p>').format(base, base)
    return layout('Вход', content, base, error=error, notice=notice)


def register(base, csrf, email='', error=''):
    content = form(f'{base}/register', csrf, [
            field('Электронная почта', 'email', 'email', email,
                autocomplete='email'),
            field('Пароль (не короче 8 знаков)', 'password', 'password',
                autocomplete='new-password', minlength=8),
            field('Пароль ещё раз', 'password2', 'password',
                autocomplete='new-password', minlength=8),
            ], 'Зарегистрироваться')
    return layout('Регистрация', content, base, error=error)


def message(base, title, text, error=False):
    content = Markup('<p><a href="{}/">Перейти ко входу</a></p>').format(
        base)
    return layout(title, content, base, **{
            'error' if error else 'notice': text})


def reset_request(base, csrf, error=''):
    content = form(f'{base}/reset', csrf, [
            field('Электронная почта', 'email', 'email',
                autocomplete='email'),
            ], 'Прислать ссылку')
    return layout('Восстановление пароля', content, base, error=error)


def reset_password(base, csrf, email, token, error=''):
    content = form(f'{base}/reset/password', csrf, [
            Markup('<input type="hidden" name="email" value="{}">'
                '<input type="hidden" name="token" value="{}">').format(
                email, token),
            field('Новый пароль (не короче 8 знаков)', 'password',
                'password', autocomplete='new-password', minlength=8),
            ], 'Сохранить пароль')
    return layout('Новый пароль', content, base, error=error)


def accounts(base, csrf, user, linked, number='', error='', notice=''):
    if linked:
        items = Markup('').join(
            Markup('<li><a href="{}/account/{}">Лицевой счёт {}</a> — {}'
                '</li>').format(base, a.id, a.number, a.premise.rec_name)
            for a in linked)
        content = Markup('<ul>{}</ul>').format(items)
    else:
        content = Markup('<p>Подключите лицевой счёт, чтобы видеть '
            'начисления, платить и передавать показания.</p>')
    content += Markup('<h2>Подключить лицевой счёт</h2><p>Номер счёта и '
        'код подключения напечатаны на квитанции (ЕПД).</p>')
    content += form(f'{base}/link', csrf, [
            field('Номер лицевого счёта', 'number', value=number,
                inputmode='numeric', autocomplete='off'),
            field('Код подключения с квитанции', 'code', inputmode='numeric',
                autocomplete='off'),
            ], 'Подключить')
    return layout('Мои лицевые счета', content, base, csrf, user,
        error=error, notice=notice)


def account_nav(base, account):
    url = f'{base}/account/{account.id}'
    links = (('', 'Обзор'), ('/readings', 'Показания'),
        ('/payments', 'Платежи'), ('/absence', 'Перерасчёт за отсутствие'),
        ('/notifications', 'Уведомления'))
    return Markup('<nav class="account" aria-label="Разделы счёта">{}'
        '</nav>').format(Markup('').join(
            Markup('<a href="{}{}">{}</a>').format(url, path, text)
            for path, text in links))


def account_page(base, csrf, user, account, title, content, **messages):
    heading = Markup('<p>Лицевой счёт <strong>{}</strong>, {}</p>').format(
        account.number, account.premise.rec_name)
    return layout(title, heading + account_nav(base, account) + content,
        base, csrf, user, **messages)


def overview(base, csrf, user, account, balance, receipt, history,
        receipt_periods):
    url = f'{base}/account/{account.id}'
    state = ('Задолженность' if balance > 0
        else 'Переплата' if balance < 0 else 'Задолженности нет')
    content = Markup('<h2>Баланс</h2><p class="balance">{}: {} ₽</p>'
        ).format(state, money(abs(balance)))
    if receipt is not None:
        content += Markup('<p>К оплате по квитанции за {}: <strong>{} ₽'
            '</strong> до {:%d.%m.%Y}</p>').format(
            period_name(receipt.period), money(receipt.total_to_pay),
            receipt.due_date)
        content += Markup(
            '<h2>Начисления за {}</h2><table><thead><tr><th scope="col">'
            'Услуга</th><th scope="col" class="num">Объём</th>'
            '<th scope="col" class="num">Тариф, ₽</th><th scope="col" '
            'class="num">Итого, ₽</th></tr></thead><tbody>{}</tbody>'
            '</table>').format(period_name(receipt.period), Markup('').join(
                Markup('<tr><td>{}</td><td class="num">{} {}</td>'
                    '<td class="num">{}</td><td class="num">{}</td></tr>'
                    ).format(line.service, _decimal(line.volume), line.unit,
                    money(line.tariff), money(line.total))
                for line in receipt.lines))
        content += Markup(
            '<h2>Оплата по QR-коду</h2><p><img src="{}/qr.svg" width="220" '
            'height="220" alt="QR-код для оплаты квитанции за {} в '
            'приложении банка"></p>').format(
            url, period_name(receipt.period))
    content += Markup('<h2>Квитанции</h2><ul>{}</ul>').format(
        Markup('').join(Markup(
                '<li><a href="{}/receipt/{:%Y-%m}.pdf">Квитанция за {} '
                '(PDF)</a></li>').format(url, p, period_name(p))
            for p in receipt_periods))
    content += Markup('<h2>История за 36 месяцев</h2>') + chart(history)
    content += Markup(
        '<details><summary>Таблица начислений и оплат</summary><table>'
        '<thead><tr><th scope="col">Месяц</th><th scope="col" class="num">'
        'Начислено, ₽</th><th scope="col" class="num">Оплачено, ₽</th>'
        '</tr></thead><tbody>{}</tbody></table></details>').format(
        Markup('').join(Markup('<tr><td>{:%m.%Y}</td><td class="num">{}'
                '</td><td class="num">{}</td></tr>').format(
                period, money(charged), money(paid))
            for period, charged, paid in history))
    return account_page(base, csrf, user, account, 'Обзор', content)


def chart(history):
    """Bars of each month's charges and payments as inline SVG; the same
    figures are in the table below it for screen readers."""
    width, height, top = 720, 220, 10
    peak = max([max(c, p) for _, c, p in history] or [0]) or Decimal(1)
    step = width / max(len(history), 1)
    bar = step * 0.4
    bars = []
    for i, (period, charged, paid) in enumerate(history):
        x = i * step
        for offset, value, colour in (
                (0, charged, '#17456b'), (bar, paid, '#4caf50')):
            h = float(value / peak) * (height - top - 20)
            bars.append(Markup(
                    '<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" '
                    'height="{:.1f}" fill="{}"/>').format(
                    x + offset, height - 20 - h, bar, h, colour))
        if period.month == 1 or i == 0:
            bars.append(Markup(
                    '<text x="{:.1f}" y="{}" font-size="11">{:%m.%Y}</text>'
                    ).format(x, height - 5, period))
    first, last = (history[0][0], history[-1][0]) if history else ('', '')
    return Markup(
        '<svg role="img" viewBox="0 0 {} {}" width="{}" height="{}" '
        'aria-labelledby="chart-title"><title id="chart-title">Начислено '
        '(синие столбцы) и оплачено (зелёные) по месяцам с {} по {}'
        '</title>{}</svg>').format(width, height, width, height,
        f'{first:%m.%Y}' if first else '', f'{last:%m.%Y}' if last else '',
        Markup('').join(bars))


def _decimal(value):
    text = format(value.normalize(), 'f') if value is not None else ''
    return text.replace('.', ',')


def readings(base, csrf, user, account, meters, window, open_, values=None,
        **messages):
    first, last = window
    url = f'{base}/account/{account.id}/readings'
    content = Markup('<p>Показания принимаются с {} по {} число каждого '
        'месяца.</p>').format(first, last)
    if not meters:
        content += Markup('<p>У помещения нет приборов учёта.</p>')
    for meter, last_reading in meters:
        content += Markup('<h2>{} № {}</h2>').format(
            meter.service.name, meter.serial)
        if last_reading:
            content += Markup('<p>Последнее показание: {} от {:%d.%m.%Y}'
                '</p>').format(' / '.join(_decimal(v)
                    for v in last_reading.values), last_reading.read_at)
        if open_:
            zones = [f'Показание прибора № {meter.serial}'] \
                if meter.zones == 1 else [
                    f'Показание T{z} прибора № {meter.serial}'
                    for z in range(1, meter.zones + 1)]
            content += form(url, csrf, [
                    Markup('<input type="hidden" name="meter" value="{}">'
                        ).format(meter.id)] + [
                    field(label, f'value{z}-{meter.id}', inputmode='decimal',
                        autocomplete='off',
                        value=(values or {}).get(f'value{z}-{meter.id}', ''))
                    for z, label in enumerate(zones, 1)],
                'Передать показание')
    return account_page(base, csrf, user, account, 'Показания приборов учёта',
        content, **messages)


def payments(base, csrf, user, account, lines):
    if lines:
        content = Markup(
            '<table><thead><tr><th scope="col">Дата</th><th scope="col" '
            'class="num">Сумма, ₽</th></tr></thead><tbody>{}</tbody>'
            '</table>').format(Markup('').join(
                Markup('<tr><td>{:%d.%m.%Y}</td><td class="num">{}</td>'
                    '</tr>').format(date, money(amount))
                for date, amount in lines))
    else:
        content = Markup('<p>Платежей пока не было.</p>')
    return account_page(base, csrf, user, account, 'Платежи', content)


def absence(base, csrf, user, account, applications, values=None,
        **messages):
    values = values or {}
    url = f'{base}/account/{account.id}/absence'
    content = Markup(
        '<p>Если вы отсутствовали больше 5 полных дней подряд, плата за '
        'услуги, начисляемые по нормативу, пересчитывается. Приложите '
        'подтверждающий документ (билеты, справку, счёт гостиницы): PDF, '
        'JPEG или PNG, не больше 5 МБ.</p>')
    content += form(url, csrf, [
            field('Дата отъезда', 'departure', 'date',
                values.get('departure', '')),
            field('Дата возвращения', 'return_date', 'date',
                values.get('return_date', '')),
            field('Подтверждающий документ', 'document', 'file',
                accept='application/pdf,image/jpeg,image/png'),
            ], 'Подать заявление', multipart=True)
    if applications:
        content += Markup('<h2>Поданные заявления</h2><ul>{}</ul>').format(
            Markup('').join(Markup(
                    '<li>Отсутствие с {:%d.%m.%Y} по {:%d.%m.%Y}: {}</li>'
                    ).format(r.departure, r.return_date,
                    STATES.get(r.state, r.state))
                for r in applications))
    return account_page(base, csrf, user, account,
        'Перерасчёт за временное отсутствие', content, **messages)


def notifications(base, csrf, user, account, **messages):
    url = f'{base}/account/{account.id}/notifications'
    content = Markup('<p>Напоминания о сроке оплаты, задолженности и '
        'передаче показаний. Отметьте, как их получать.</p>')
    content += form(url, csrf, [
            field('Электронная почта', 'email', 'email',
                account.email or '', required=False, autocomplete='email'),
            field('Телефон', 'phone', 'tel', account.phone or '',
                required=False, autocomplete='tel'),
            checkbox('Согласен получать квитанции и уведомления по '
                'электронной почте', 'email_consent', account.email_consent),
            checkbox('Согласен получать SMS', 'sms_consent',
                account.sms_consent),
            checkbox('Согласен на звонки-напоминания', 'call_consent',
                account.call_consent),
            ], 'Сохранить')
    return account_page(base, csrf, user, account, 'Уведомления', content,
        **messages)
