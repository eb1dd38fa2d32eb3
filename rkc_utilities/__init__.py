from . import portal_routes  # noqa: F401 (routes register on import)
from . import agent_routes  # noqa: F401 (routes register on import)
from . import notification_routes  # noqa: F401 (routes register on import)
