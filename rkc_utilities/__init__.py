from . import portal_routes  # noqa: F401 (routes register on import)
