"""The report's one error type."""

from simulator.scenario.errors import InputError


class ReportError(InputError):
    """A report cannot be drawn: a result file is missing or unreadable, or no CJK font.

    The message says what is wrong and what to do; the CLI prints it and exits 2.
    """
