"""A recursive-descent (Pratt) parser for conditions (`when:`) and actions (`then:`).

Grammar (EBNF; `docs/rules.md` is the reference):

    condition  = expr ;
    action     = target assign_op expr ;
    target     = NAME "." NAME [ "." NAME ] ;
    assign_op  = "=" | "*=" | "+=" | "-=" ;
    expr       = or ;
    or         = and { "or" and } ;
    and        = not { "and" not } ;
    not        = "not" not | comparison ;
    comparison = sum [ ( "<" | "<=" | ">" | ">=" | "==" | "!=" ) sum ] ;   (no chains)
    sum        = product { ( "+" | "-" ) product } ;
    product    = unary { ( "*" | "/" ) unary } ;
    unary      = ( "-" | "+" ) unary | atom ;
    atom       = NUMBER | STRING | "true" | "false" | NAME [ "(" [ expr { "," expr } ] ")" ]
               | "(" expr ")" ;

Everything outside it is a `RuleSyntaxError` naming the column. Parsing is bounded:
at most `MAX_LENGTH` characters, `MAX_NESTING` levels of parentheses / calls / prefix
operators, and a tree at most `MAX_HEIGHT` nodes high, so no text can exhaust the stack.
"""

from __future__ import annotations

from simulator.rules.errors import RuleNameError, RuleSyntaxError
from simulator.rules.nodes import (
    ASSIGN_OPS,
    COMPARISONS,
    PRECEDENCE,
    UNARY_PRECEDENCE,
    Assign,
    Binary,
    Bool,
    Call,
    Expr,
    Name,
    Num,
    Str,
    Unary,
)
from simulator.rules.tokenizer import KEYWORDS, Token, tokenize

MAX_NESTING = 20
"""Deepest nesting of parentheses, calls and prefix operators (`-`, `not`)."""
MAX_HEIGHT = 64
"""Highest syntax tree (a chain `a + b + c` is as high as it is long)."""


def parse_condition(text: str) -> Expr:
    """The tree of a `when:` expression. Raises `RuleSyntaxError`."""
    p = _Parser(text)
    if p.peek().kind == "END":
        raise RuleSyntaxError("the condition is empty", 1)
    node = p.expression()
    p.finish(context="condition")
    return node


def parse_expression(text: str) -> Expr:
    """The tree of any expression (same grammar as a condition)."""
    return parse_condition(text)


def parse_action(text: str) -> Assign:
    """The tree of one `then:` action, `target op value`. Raises `RuleSyntaxError`."""
    p = _Parser(text)
    first = p.peek()
    if first.kind == "END":
        raise RuleSyntaxError("the action is empty", 1)
    if first.kind != "NAME" or first.value in KEYWORDS:
        raise RuleSyntaxError(
            f"an action starts with a target such as paid_search.daily_budget, not {_show(first)}",
            first.col)
    p.next()
    if p.peek_op("("):
        raise RuleNameError(
            f"unknown action {first.value!r}: an action sets a target, "
            "'<channel>.<field> = value' (or *=, +=, -=)", first.col)
    target = [first.value]
    while p.peek_op("."):
        p.next()
        tok = p.next()
        if tok.kind != "NAME" or tok.value in KEYWORDS:
            raise RuleSyntaxError(f"expected a field name after '.', got {_show(tok)}", tok.col)
        target.append(tok.value)
    op = p.peek()
    if op.kind == "OP" and op.value == "(":
        raise RuleNameError(
            f"unknown action {'.'.join(target)!r}: an action sets a target, "
            "'<channel>.<field> = value' (or *=, +=, -=)", first.col)
    if not (op.kind == "OP" and op.value in ASSIGN_OPS):
        if op.kind == "OP" and op.value == "==":
            raise RuleSyntaxError("'==' compares; an action sets with '=', '*=', '+=' or '-='",
                                  op.col)
        raise RuleSyntaxError(
            f"expected '=', '*=', '+=' or '-=' after the target {'.'.join(target)!r}, "
            f"got {_show(op)}", op.col)
    p.next()
    if p.peek().kind == "END":
        raise RuleSyntaxError(f"expected a value after {op.value!r}", p.peek().col)
    value = p.expression()
    p.finish(context="action")
    return Assign(tuple(target), op.value, value, first.col, op.col)


def _show(tok: Token) -> str:
    if tok.kind == "END":
        return "the end of the text"
    if tok.kind == "NUMBER":
        return "a number"
    if tok.kind == "STRING":
        return f"the string {tok.value!r}"
    if tok.kind == "NAME":
        return f"{tok.value!r}"
    return f"{tok.value!r}"


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0
        self.nesting = 0
        self.height: dict[int, int] = {}  # id(node) -> height, while the tree is built

    # ------------------------------------------------------------ tokens
    def peek(self) -> Token:
        return self.tokens[self.i]

    def peek_op(self, op: str) -> bool:
        t = self.tokens[self.i]
        return t.kind == "OP" and t.value == op

    def next(self) -> Token:
        t = self.tokens[self.i]
        if t.kind != "END":
            self.i += 1
        return t

    def finish(self, context: str) -> None:
        t = self.peek()
        if t.kind == "END":
            return
        if t.kind == "OP" and t.value == ".":
            raise RuleSyntaxError("attribute access ('.') is not allowed in an expression", t.col)
        if t.kind == "OP" and t.value in ASSIGN_OPS:
            hint = ("; compare with '=='" if t.value == "=" else "") if context == "condition" \
                else ": one assignment per action"
            raise RuleSyntaxError(f"{t.value!r} is not allowed here{hint}", t.col)
        if t.kind == "OP" and t.value == ")":
            raise RuleSyntaxError("')' without a matching '('", t.col)
        if t.kind == "OP" and t.value == ",":
            raise RuleSyntaxError("',' outside a call's parentheses", t.col)
        if t.kind == "OP" and t.value == "(":
            raise RuleSyntaxError("'(' right after a value: only metric names can be called", t.col)
        raise RuleSyntaxError(f"expected an operator or the end, got {_show(t)}", t.col)

    # ------------------------------------------------------------- nodes
    def node(self, n, *children):
        h = 1 + max((self.height.get(id(c), 1) for c in children), default=0)
        if h > MAX_HEIGHT:
            raise RuleSyntaxError(f"the expression is too deeply nested (more than {MAX_HEIGHT} "
                                  "levels); split it into several rules", n.col)
        self.height[id(n)] = h
        return n

    def enter(self, tok: Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise RuleSyntaxError(f"nested more than {MAX_NESTING} levels deep", tok.col)

    def leave(self) -> None:
        self.nesting -= 1

    # ------------------------------------------------------- expressions
    def expression(self, rbp: int = 0) -> Expr:
        left = self.prefix(self.next())
        while True:
            tok = self.peek()
            bp = _infix_power(tok)
            if bp <= rbp:
                return left
            self.next()
            right = self.expression(bp)
            left = self.node(Binary(tok.value, left, right, tok.col), left, right)
            if tok.value in COMPARISONS:
                after = self.peek()
                if _infix_power(after) == PRECEDENCE["<"]:
                    raise RuleSyntaxError(
                        f"comparisons do not chain; write 'a {tok.value} b and b {after.value} c'",
                        after.col)

    def prefix(self, tok: Token) -> Expr:
        if tok.kind == "NUMBER":
            return Num(tok.value, tok.col)
        if tok.kind == "STRING":
            return Str(tok.value, tok.col)
        if tok.kind == "NAME":
            if tok.value in ("true", "false"):
                return Bool(tok.value == "true", tok.col)
            if tok.value == "not":
                return self.unary(tok, "not")
            if tok.value in ("and", "or"):
                raise RuleSyntaxError(f"{tok.value!r} needs a condition on its left", tok.col)
            if self.peek_op("("):
                return self.call(tok)
            if self.peek_op("."):
                raise RuleSyntaxError(
                    "attribute access ('.') is not allowed in an expression", self.peek().col)
            return Name(tok.value, tok.col)
        if tok.kind == "OP":
            if tok.value in ("-", "+"):
                return self.unary(tok, tok.value)
            if tok.value == "(":
                self.enter(tok)
                if self.peek_op(")"):
                    raise RuleSyntaxError("empty parentheses: expected an expression inside",
                                          self.peek().col)
                inner = self.expression()
                self.close(tok)
                self.leave()
                return inner
            raise RuleSyntaxError(f"expected a value, got {_show(tok)}", tok.col)
        if tok.kind == "END":
            raise RuleSyntaxError("the text ends where a value was expected", tok.col)
        raise RuleSyntaxError(f"expected a value, got {_show(tok)}", tok.col)  # pragma: no cover

    def unary(self, tok: Token, op: str) -> Expr:
        self.enter(tok)
        operand = self.expression(UNARY_PRECEDENCE[op])
        self.leave()
        return self.node(Unary(op, operand, tok.col), operand)

    def call(self, name: Token) -> Expr:
        opening = self.next()
        self.enter(opening)
        args: list[Expr] = []
        if not self.peek_op(")"):
            while True:
                args.append(self.expression())
                if self.peek_op(","):
                    self.next()
                    continue
                break
        self.close(opening)
        self.leave()
        return self.node(Call(name.value, tuple(args), name.col), *args)

    def close(self, opening: Token) -> None:
        t = self.next()
        if not (t.kind == "OP" and t.value == ")"):
            if t.kind == "END":
                raise RuleSyntaxError("'(' is never closed", opening.col)
            raise RuleSyntaxError(f"expected ')' or an operator, got {_show(t)}", t.col)


def _infix_power(tok: Token) -> int:
    if tok.kind == "OP" and tok.value in PRECEDENCE:
        return PRECEDENCE[tok.value]
    if tok.kind == "NAME" and tok.value in ("and", "or"):
        return PRECEDENCE[tok.value]
    return 0
