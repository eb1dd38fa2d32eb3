"""The demo's consumer in the portal: a web user who has confirmed the
address and linked one personal account with meters, which also gets a
phone PIN for the IVR lookup."""
from trytond.pool import Pool

EMAIL = 'consumer@example.org'
PASSWORD = 'demo-portal'
PHONE_PIN = '1234'


def create():
    "Create the user; return the number of the account linked."
    pool = Pool()
    WebUser = pool.get('web.user')
    Account = pool.get('rkc.account')
    Meter = pool.get('rkc.meter')
    Link = pool.get('rkc.portal.link')
    meters = Meter.search([
            ('premise', '!=', None), ('state', '=', 'active')],
        order=[('id', 'ASC')], limit=1)
    domain = [('state', '=', 'open')]
    if meters:
        domain.append(('premise', '=', meters[0].premise.id))
    account, = Account.search(domain, order=[('id', 'ASC')], limit=1)
    user, = WebUser.create([{
                'email': EMAIL, 'password': PASSWORD, 'email_valid': True}])
    Link.create([{'web_user': user.id, 'account': account.id}])
    Account.write([account], {'phone_pin': PHONE_PIN})
    return account.number
