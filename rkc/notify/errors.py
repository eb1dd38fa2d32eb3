"Why a notification could not be prepared or handed over."


class ConfigError(Exception):
    """A channel is not configured well enough to send anything; ``code``
    names the setting for callers that explain it in their own words."""

    def __init__(self, code, detail):
        super().__init__(detail)
        self.code = code


class DeliveryError(Exception):
    "One message refused by the mail server, the gateway or espeak-ng."
