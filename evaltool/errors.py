"""The exceptions evaltool raises for people, each with the exit code the CLI returns.

Exit codes follow DESIGN.md: 1 for a failed gate or check, 2 for a usage or input error
(an unreachable database included: the user has to fix a setting).
"""


class EvaltoolError(Exception):
    """A problem the user can fix; its message is printed as one line, without a traceback."""

    exit_code = 2


class DatabaseUnavailable(EvaltoolError):
    """The database cannot be reached, or the server cannot be used."""


class MigrationError(EvaltoolError):
    """A migration or an sql/ definition failed; the database keeps its previous state."""


class CheckFailed(EvaltoolError):
    """A check ran and found a problem, e.g. pending migrations in db health."""

    exit_code = 1


class BudgetExceeded(EvaltoolError):
    """A run stopped because its --max-cost or its project's monthly budget was spent."""

    exit_code = 1
