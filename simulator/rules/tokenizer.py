"""Tokens of the rules language (追加预算 rules), with the 1-based column of each.

The tokenizer is the first wall against hostile text: it knows a short list of
characters and words, and everything else — brackets, braces, `;`, backticks,
`:`, `**`, names with a leading underscore (`__import__`), Python keywords
(`lambda`, `import`, `for` ...) — is an error that names its column. Nothing
here (or anywhere in `simulator.rules`) calls `eval`, `exec`, `compile` or
Python's `ast`.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from simulator.rules.errors import RuleSyntaxError

MAX_LENGTH = 500
"""Longest expression accepted, in characters."""


@dataclass(frozen=True)
class Token:
    """`kind` is one of NUMBER, STRING, NAME, OP, END; `value` the number, text or operator."""

    kind: str
    value: object
    col: int


# Longest first, so that `<=` wins over `<` and `*=` over `*`.
OPERATORS = ("*=", "+=", "-=", "<=", ">=", "==", "!=", "+", "-", "*", "/", "<", ">", "=",
             "(", ")", ",", ".")
KEYWORDS = frozenset({"and", "or", "not", "true", "false"})

# Python words a rule has no use for: named so the message says what they are.
_PYTHON_WORDS = frozenset({
    "lambda", "import", "from", "for", "in", "if", "else", "elif", "while", "is", "def",
    "class", "return", "yield", "with", "as", "global", "nonlocal", "del", "pass", "raise",
    "try", "except", "finally", "assert", "async", "await", "break", "continue", "None",
    "True", "False", "eval", "exec", "compile", "open", "getattr", "setattr", "globals",
    "locals", "vars", "print", "input", "breakpoint",
})
_FORBIDDEN_OPERATORS = {
    "**": "powers ('**') are not part of the rules language",
    "//": "floor division ('//') is not part of the rules language; use '/'",
    "/=": "'/=' is not an action; use '*=' with the inverse (x *= 0.5)",
    "%=": "'%=' is not an action",
    "<>": "'<>' is not an operator; use '!='",
    "=>": "'=>' is not an operator; use '>='",
    "=<": "'=<' is not an operator; use '<='",
    "&&": "'&&' is not an operator; use 'and'",
    "||": "'||' is not an operator; use 'or'",
}
_CHARACTERS = {
    ";": "';' is not allowed: write one action per entry (give `then:` a list)",
    "[": "brackets ('[') are not part of the rules language: no lists, indexing or comprehensions",
    "]": "brackets (']') are not part of the rules language",
    "{": "braces ('{') are not part of the rules language: no sets, dicts or formatting",
    "}": "braces ('}') are not part of the rules language",
    "`": "backticks are not part of the rules language; quote names with ' or \"",
    ":": "':' is not part of the rules language (no lambdas, slices or blocks)",
    "@": "'@' is not part of the rules language",
    "\\": "backslashes are not part of the rules language",
    "#": "comments ('#') are not allowed inside an expression",
    "!": "'!' is only part of '!='; use 'not' for negation",
    "&": "'&' is not an operator; use 'and'",
    "|": "'|' is not an operator; use 'or'",
    "^": "'^' is not an operator (no powers or xor)",
    "~": "'~' is not an operator; use 'not'",
    "$": "'$' is not part of the rules language",
    "?": "'?' is not part of the rules language",
    "%": "'%' only follows a number (20% is 0.2); there is no remainder operator",
}


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"  # not str.isdigit, which admits '²' and other digits float() refuses


def _is_name_start(ch: str) -> bool:
    return ch.isascii() and (ch.isalpha() or ch == "_")


def _is_name_char(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, ending with an END token. Raises `RuleSyntaxError`.

    Numbers: `3`, `0.5`, `.5`, `1e3`, and percentages (`20%` is 0.2). Strings: in single
    or double quotes, no escapes. Names: ASCII letters, digits and `_`, not starting with
    `_` or a digit. Whitespace (newlines too) separates tokens; a column counts characters
    from the start of the expression.
    """
    if not isinstance(text, str):
        raise RuleSyntaxError(f"expected text, got {type(text).__name__}", 1)
    if len(text) > MAX_LENGTH:
        raise RuleSyntaxError(
            f"the expression is {len(text)} characters long; at most {MAX_LENGTH} are allowed "
            "(split it into several rules)", MAX_LENGTH + 1)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch.isspace():
            i += 1
            continue
        if _is_digit(ch) or (ch == "." and i + 1 < n and _is_digit(text[i + 1])):
            i = _number(text, i, tokens)
            continue
        if _is_name_start(ch):
            j = i
            while j < n and _is_name_char(text[j]):
                j += 1
            word = text[i:j]
            if word.startswith("_"):
                raise RuleSyntaxError(
                    f"names may not start with '_' ({word!r}): no dunder or private names", col)
            if word in _PYTHON_WORDS:
                raise RuleSyntaxError(f"{word!r} is not part of the rules language", col)
            tokens.append(Token("NAME", word, col))
            i = j
            continue
        if ch in "'\"":
            j = text.find(ch, i + 1)
            if j < 0:
                raise RuleSyntaxError(
                    f"unterminated string: no closing {ch} for the quote here", col)
            tokens.append(Token("STRING", text[i + 1:j], col))
            i = j + 1
            continue
        two = text[i:i + 2]
        if two in _FORBIDDEN_OPERATORS:
            raise RuleSyntaxError(_FORBIDDEN_OPERATORS[two], col)
        op = next((o for o in OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token("OP", op, col))
            i += len(op)
            continue
        raise RuleSyntaxError(_unexpected(ch), col)
    tokens.append(Token("END", None, n + 1))
    return tokens


def _number(text: str, i: int, tokens: list[Token]) -> int:
    """Read a number starting at `i`; append its token; return the index after it."""
    n, start = len(text), i
    while i < n and _is_digit(text[i]):
        i += 1
    if i < n and text[i] == "." and i + 1 < n and _is_digit(text[i + 1]):
        i += 1
        while i < n and _is_digit(text[i]):
            i += 1
    elif i < n and text[i] == "." and not (i + 1 < n and _is_name_start(text[i + 1])):
        i += 1  # `3.` is 3.0; `3.x` is left for the parser to reject as attribute access
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and _is_digit(text[j]):
            while j < n and _is_digit(text[j]):
                j += 1
            i = j
    value = float(text[start:i])
    if i < n and text[i] == "%":
        value /= 100
        i += 1
    if not math.isfinite(value):
        raise RuleSyntaxError(f"the number {text[start:i]!r} is too large", start + 1)
    if i < n and (_is_name_char(text[i])):
        raise RuleSyntaxError(
            f"a number runs into a name ({text[start:i + 1]!r}...); put an operator between", i + 1)
    tokens.append(Token("NUMBER", value, start + 1))
    return i


def _unexpected(ch: str) -> str:
    if ch in _CHARACTERS:
        return _CHARACTERS[ch]
    folded = unicodedata.normalize("NFKC", ch)
    if folded != ch and folded.isascii() and folded.strip():
        return f"{ch!r} is a full-width character; use the ASCII {folded!r}"
    if not ch.isascii() and (ch.isalpha() or ch.isdigit()):
        return (f"{ch!r}: names in expressions are ASCII; write channel and SKU names "
                "in quotes ('直通车')")
    name = unicodedata.name(ch, "")
    named = f" ({name.lower()})" if name and not ch.isprintable() else ""
    return f"unexpected character {ch!r}{named}"
