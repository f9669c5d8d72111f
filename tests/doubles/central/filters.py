"""The OData `$filter` subset Central supports on submissions, parsed and evaluated.

Grammar (OData precedence: `not` > comparison > `and` > `or`):

    expr    := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | compare
    compare := operand (("eq"|"ne"|"gt"|"ge"|"lt"|"le") operand)?
    operand := "(" expr ")" | func "(" [operand] ")" | literal | member

Members are `__id` and `__system/{submissionDate,updatedAt,submitterId,reviewState,
deletedAt}` (optionally prefixed `$root/Submissions/`); functions `year month day hour
minute second now`. Evaluation follows the SQL Central generates: `eq`/`ne` are
`IS [NOT] DISTINCT FROM` (so `eq null` works), ordering comparisons with a null are
unknown, and `and`/`or`/`not` use three-valued logic; a row is kept only when true.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.doubles.central import problems
from tests.doubles.central.clock import from_us, parse_iso, to_us

# field -> (attribute on the submission, kind)
FIELDS: dict[str, tuple[str, str]] = {
    "__id": ("instance_id", "text"),
    "__system/submissionDate": ("created_us", "time"),
    "__system/updatedAt": ("updated_us", "time"),
    "__system/submitterId": ("submitter_id", "int"),
    "__system/reviewState": ("review_state", "text"),
    "__system/deletedAt": ("deleted_us", "time"),
}
_FUNCTIONS = ("year", "month", "day", "hour", "minute", "second", "now")
_COMPARE = ("eq", "ne", "gt", "ge", "lt", "le")
_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)
    |(?P<string>'(?:[^']|'')*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<number>[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<name>\$?[A-Za-z_][A-Za-z0-9_]*(?:/\$?[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.X,
)

Predicate = Callable[[Any], Any]


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    at: int


@dataclass(frozen=True)
class Node:
    kind: str  # or, and, not, compare, member, literal, call
    at: int
    text: str
    op: str = ""
    args: tuple[Node, ...] = ()
    value: Any = None


def tokenize(expr: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise problems.unparseable_filter(f"unexpected character at {pos}: {expr[pos:]!r}")
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup or "", match.group(), pos))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = tokenize(expr)
        self.pos = 0

    def peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def keyword(self, *words: str) -> Token | None:
        token = self.peek()
        if token is not None and token.kind == "name" and token.text in words:
            self.pos += 1
            return token
        return None

    def expect(self, kind: str) -> Token:
        token = self.peek()
        if token is None or token.kind != kind:
            where = len(self.expr) if token is None else token.at
            raise problems.unparseable_filter(f"expected {kind} at {where}")
        self.pos += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise problems.unparseable_filter("empty expression")
        node = self.or_expr()
        extra = self.peek()
        if extra is not None:
            raise problems.unparseable_filter(f"unexpected {extra.text!r} at {extra.at}")
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while token := self.keyword("or"):
            node = Node("or", token.at, "or", args=(node, self.and_expr()))
        return node

    def and_expr(self) -> Node:
        node = self.unary()
        while token := self.keyword("and"):
            node = Node("and", token.at, "and", args=(node, self.unary()))
        return node

    def unary(self) -> Node:
        token = self.keyword("not")
        if token is not None:
            return Node("not", token.at, "not", args=(self.unary(),))
        return self.compare()

    def compare(self) -> Node:
        left = self.operand()
        token = self.keyword(*_COMPARE)
        if token is None:
            return left
        return Node("compare", token.at, token.text, op=token.text, args=(left, self.operand()))

    def operand(self) -> Node:
        token = self.peek()
        if token is None:
            raise problems.unparseable_filter(f"expected an operand at {len(self.expr)}")
        self.pos += 1
        if token.kind == "lparen":
            node = self.or_expr()
            self.expect("rparen")
            return node
        if token.kind == "string":
            return Node("literal", token.at, token.text, value=token.text[1:-1].replace("''", "'"))
        if token.kind in ("datetime", "date"):
            return Node("literal", token.at, token.text, value=token.text)
        if token.kind == "number":
            return Node("literal", token.at, token.text, value=token.text)
        if token.kind == "name":
            if token.text in ("null", "true", "false"):
                value = {"null": None, "true": True, "false": False}[token.text]
                return Node("literal", token.at, token.text, value=value)
            nxt = self.peek()
            if nxt is not None and nxt.kind == "lparen" and "/" not in token.text:
                self.pos += 1
                args: tuple[Node, ...] = ()
                following = self.peek()
                if following is not None and following.kind != "rparen":
                    args = (self.operand(),)
                self.expect("rparen")
                return Node("call", token.at, token.text, op=token.text, args=args)
            return Node("member", token.at, token.text)
        raise problems.unparseable_filter(f"unexpected {token.text!r} at {token.at}")


def parse(expr: str) -> Node:
    return _Parser(expr).parse()


def mentions_deleted_at(node: Node) -> bool:
    """Central hides deleted rows unless the filter names `__system/deletedAt`."""
    if node.kind == "member":
        return node.text in ("__system/deletedAt", "$root/Submissions/__system/deletedAt")
    return any(mentions_deleted_at(arg) for arg in node.args)


def _field(node: Node) -> tuple[str, str]:
    name = node.text.removeprefix("$root/Submissions/")
    if name not in FIELDS:
        raise problems.unsupported_filter_field(node.text, node.at)
    return FIELDS[name]


def _kind(node: Node) -> str | None:
    if node.kind == "member":
        return _field(node)[1]
    if node.kind == "call":
        return "time" if node.op == "now" else "int"
    return None


def _coerce(value: Any, kind: str | None, node: Node) -> Any:
    """Cast a literal the way PostgreSQL casts it against the other operand's column."""
    if value is None or kind is None:
        return value
    try:
        if kind == "time":
            return parse_iso(str(value))
        if kind == "int":
            return int(value) if not isinstance(value, str) or "." not in value else float(value)
        return str(value).lower() if isinstance(value, bool) else str(value)
    except ValueError as e:
        raise problems.unparseable_filter(f"invalid value {node.text} at {node.at}") from e


def _part(name: str, us: int | None) -> int | None:
    if us is None:
        return None
    moment = from_us(us)
    return moment.second if name == "second" else getattr(moment, name)


def _operand(node: Node, other: Node | None) -> Predicate:
    if node.kind == "member":
        attr = _field(node)[0]
        return lambda sub: getattr(sub, attr)
    if node.kind == "literal":
        value = _coerce(node.value, None if other is None else _kind(other), node)
        return lambda sub: value
    if node.kind == "call":
        if node.op not in _FUNCTIONS:
            raise problems.unsupported_filter_expression(node.at, "MethodCallExpression", node.text)
        if node.op == "now":
            return lambda sub: to_us(datetime.now(UTC))
        if len(node.args) != 1:
            raise problems.unparseable_filter(f"{node.op} takes one argument (at {node.at})")
        inner = _operand(node.args[0], None)
        return lambda sub: _part(node.op, inner(sub))
    return compile_node(node)


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None:
        return None
    try:
        if op == "gt":
            return left > right
        if op == "ge":
            return left >= right
        if op == "lt":
            return left < right
        return left <= right
    except TypeError as e:
        raise problems.unparseable_filter(f"cannot compare {left!r} and {right!r}") from e


def compile_node(node: Node) -> Predicate:
    if node.kind == "or":
        left, right = (compile_node(arg) for arg in node.args)

        def either(sub: Any) -> bool | None:
            a = left(sub)
            if a is True:
                return True
            b = right(sub)
            return True if b is True else (None if a is None or b is None else False)

        return either
    if node.kind == "and":
        left, right = (compile_node(arg) for arg in node.args)

        def both(sub: Any) -> bool | None:
            a = left(sub)
            if a is False:
                return False
            b = right(sub)
            return False if b is False else (None if a is None or b is None else True)

        return both
    if node.kind == "not":
        inner = compile_node(node.args[0])
        return lambda sub: None if (v := inner(sub)) is None else not v
    if node.kind == "compare":
        left_node, right_node = node.args
        left = _operand(left_node, right_node)
        right = _operand(right_node, left_node)
        op = node.op
        return lambda sub: _compare(op, left(sub), right(sub))
    if node.kind == "member":
        attr = _field(node)[0]
        return lambda sub: getattr(sub, attr)
    if node.kind == "literal":
        return lambda sub: node.value
    return _operand(node, None)


def compile_filter(expr: str | None) -> tuple[Predicate, bool]:
    """(predicate, include_deleted) for a `$filter` value; predicate(sub) is True to keep."""
    if expr is None:
        return (lambda sub: True), False
    tree = parse(expr)
    return compile_node(tree), mentions_deleted_at(tree)
