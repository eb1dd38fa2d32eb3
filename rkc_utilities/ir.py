# This file is part of rkc_utilities.  The COPYRIGHT file at the top level of
# this repository contains the full copyright notices and license terms.
from trytond.cache import Cache
from trytond.pool import Pool, PoolMeta


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        context['rkc_centres'] = Pool().get('res.user').get_rkc_centres()
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        return (*key, tuple(Pool().get('res.user').get_rkc_centres()))


class Model(metaclass=PoolMeta):
    __name__ = 'ir.model'

    _reference_selection_cache = Cache(__name__ + '.reference_selection')

    @classmethod
    def register(cls, model, module_name):
        model_id = super().register(model, module_name)
        cls._reference_selection_cache.clear()
        return model_id

    @classmethod
    def reference_selection(cls, models):
        """The selection of a Reference field to ``models``: [(None, ''),
        (model, name) …]. get_names reads and translates the name of every
        model, which cost a fresh process a fifth of a second on the first
        record with an origin it validated: every import paid it."""
        key = tuple(models)
        names = cls._reference_selection_cache.get(key)
        if names is None:
            names = {record.name: record.string
                for record in cls.search([('name', 'in', list(models))])}
            cls._reference_selection_cache.set(key, names)
        return [(None, '')] + [(m, names.get(m, m)) for m in models]
