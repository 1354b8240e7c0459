"""Errors of the rules language. Every load-time error carries the 1-based column it is about."""

from __future__ import annotations


class RuleError(ValueError):
    """A rule the language rejects at load time: `message` about column `col` (1-based)."""

    def __init__(self, message: str, col: int):
        super().__init__(f"col {col}: {message}")
        self.message = message
        self.col = col

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.message, self.col))


class RuleSyntaxError(RuleError):
    """Text outside the grammar (unknown character, misplaced token, too long, too deep)."""


class RuleNameError(RuleError):
    """An unknown metric, function, channel, SKU, phase, action or target field."""


class RuleTypeError(RuleError):
    """Values of the wrong type for an operator, a function, a condition or a target."""
