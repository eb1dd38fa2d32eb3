"Errors of the pure calculation layer."


class CalculationError(ValueError):
    """The inputs cannot give a lawful result (a negative volume, a period
    without a tariff, …); the message says which input and why."""
