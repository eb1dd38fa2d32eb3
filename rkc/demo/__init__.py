"""The demo town: plain data for ``rkc demo``, generated building by
building so that any size loads in bounded memory (see :mod:`.town`)."""
from .meters import FleetLayout
from .reference import reference_data
from .town import Town

__all__ = ['FleetLayout', 'Town', 'reference_data']
