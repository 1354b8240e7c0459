"""The syntax tree of the rules language, and a printer that writes it back as text.

Nodes are frozen dataclasses of plain values (picklable, comparable). `col` is the
1-based column of the node in the text it came from; it is left out of equality,
so a printed and re-parsed tree equals the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Num:
    """A number literal (`20%` is stored as 0.2). Never negative: `-3` is `Unary('-', Num(3))`."""

    value: float
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Str:
    """A quoted string: a channel, SKU or phase name, or a pacing mode."""

    value: str
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Bool:
    """`true` or `false`."""

    value: bool
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Name:
    """A bare name: a metric of the whole store (`roi_1h`) or a clock value (`hour`)."""

    name: str
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    """`name(args)`: a metric of one subject (`roi_1h('paid_search')`) or `min`/`max`."""

    name: str
    args: tuple["Expr", ...]
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Unary:
    """`-x`, `+x` or `not x`; `col` is the operator's."""

    op: str
    operand: "Expr"
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Binary:
    """Arithmetic (`+ - * /`), comparison (`< <= > >= == !=`) or logic (`and`, `or`);
    `col` is the operator's."""

    op: str
    left: "Expr"
    right: "Expr"
    col: int = field(default=0, compare=False)


Expr = Union[Num, Str, Bool, Name, Call, Unary, Binary]


@dataclass(frozen=True)
class Assign:
    """An action: `target op value`, e.g. `paid_search.daily_budget *= 1.3`.

    `target` is the dotted path as written (`('paid_search', 'daily_budget')`), `col` the
    target's column, `op_col` the operator's."""

    target: tuple[str, ...]
    op: str
    value: Expr
    col: int = field(default=0, compare=False)
    op_col: int = field(default=0, compare=False)


ARITHMETIC = ("+", "-", "*", "/")
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
LOGIC = ("and", "or")
ASSIGN_OPS = ("=", "*=", "+=", "-=")

# Binding power: higher binds tighter. `not` sits below comparisons (`not a < b` is
# `not (a < b)`), unary minus above `*` (`-a * b` is `(-a) * b`).
PRECEDENCE = {"or": 1, "and": 2, "not": 3, **{c: 4 for c in COMPARISONS},
              "+": 5, "-": 5, "*": 6, "/": 6}
UNARY_PRECEDENCE = {"not": 3, "-": 7, "+": 7}
ATOM = 8


def precedence(node: Expr) -> int:
    if isinstance(node, Binary):
        return PRECEDENCE[node.op]
    if isinstance(node, Unary):
        return UNARY_PRECEDENCE[node.op]
    return ATOM


def number_text(value: float) -> str:
    """A number as the tokenizer reads it back to the same float (`3`, `0.2`, `1e-05`)."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def string_text(value: str) -> str:
    return f"'{value}'" if "'" not in value else f'"{value}"'


def unparse(node: Expr | Assign) -> str:
    """The text of `node`, with the fewest parentheses that keep its structure."""
    if isinstance(node, Assign):
        return f"{'.'.join(node.target)} {node.op} {unparse(node.value)}"
    if isinstance(node, Num):
        return number_text(node.value)
    if isinstance(node, Str):
        return string_text(node.value)
    if isinstance(node, Bool):
        return "true" if node.value else "false"
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Call):
        return f"{node.name}({', '.join(unparse(a) for a in node.args)})"
    if isinstance(node, Unary):
        inner = unparse(node.operand)
        if precedence(node.operand) < UNARY_PRECEDENCE[node.op]:
            inner = f"({inner})"
        return f"not {inner}" if node.op == "not" else f"{node.op}{inner}"
    if isinstance(node, Binary):
        p = PRECEDENCE[node.op]
        left, right = unparse(node.left), unparse(node.right)
        # left-associative: a left child of equal strength needs no parentheses, except
        # under a comparison, which does not chain
        if precedence(node.left) < p or (p == 4 and precedence(node.left) == 4):
            left = f"({left})"
        if precedence(node.right) <= p:
            right = f"({right})"
        return f"{left} {node.op} {right}"
    raise TypeError(f"not a rules-language node: {node!r}")


def depth(node: Expr | Assign) -> int:
    """Height of the tree (an atom is 1)."""
    if isinstance(node, Assign):
        return 1 + depth(node.value)
    if isinstance(node, Call):
        return 1 + max((depth(a) for a in node.args), default=0)
    if isinstance(node, Unary):
        return 1 + depth(node.operand)
    if isinstance(node, Binary):
        return 1 + max(depth(node.left), depth(node.right))
    return 1
