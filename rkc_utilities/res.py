# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.cache import Cache
from trytond.model import ModelSQL, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    rkc_centres = fields.Many2Many(
        'res.user-rkc.centre', 'user', 'centre', "Centres",
        help="The centres whose accounts an operator works with.")
    _get_rkc_centres_cache = Cache(
        __name__ + '.get_rkc_centres', context=False)

    @classmethod
    def get_rkc_centres(cls):
        "Ids of the centres of the current user (for record rules)."
        user_id = Transaction().user
        centres = cls._get_rkc_centres_cache.get(user_id)
        if centres is None:
            centres = [c.id for c in cls(user_id).rkc_centres]
            cls._get_rkc_centres_cache.set(user_id, centres)
        return centres

    @classmethod
    def on_modification(cls, mode, users, field_names=None):
        super().on_modification(mode, users, field_names=field_names)
        cls._get_rkc_centres_cache.clear()


class UserCentre(ModelSQL):
    __name__ = 'res.user-rkc.centre'

    user = fields.Many2One(
        'res.user', "User", ondelete='CASCADE', required=True)
    centre = fields.Many2One(
        'rkc.centre', "Centre", ondelete='CASCADE', required=True)

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        Pool().get('res.user')._get_rkc_centres_cache.clear()
