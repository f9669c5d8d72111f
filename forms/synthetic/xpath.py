"""The XPath of the built forms' `relevant` binds, evaluated for many submissions at once.

`compile_expression(text)` parses an expression once; `Expression.boolean(nodes, n)` gives
one answer per submission from `nodes`, the values of the nodes it reads by absolute path
(`/data/visit/doses_given`), each an array with one element per submission: strings
(object arrays, `''` when unanswered), or `datetime64[D]` for date nodes (see `node_values`).
A node the mapping lacks is unanswered.

Values follow XPath 1.0 as ODK applies it to one node per path: a path is the node's
value, a comparison with a number compares numbers, `<` and `>` compare numbers (a date
counts its days since 1970-01-01), an empty or non-numeric string is NaN, and NaN
compares false. The functions are the ones XLSForms use in skip logic on answers
(`selected`, `count-selected`, `format-date`, `int`, `if`, `not`, ...); anything else, or
anything that needs the clock or the device (`today()`, `now()`), is an
`ExpressionError` when the expression is compiled, not a wrong answer later.

>>> e = compile_expression("selected( /data/doses , 'hepb1') and /data/n < 6")
>>> nodes = {"/data/doses": node_values(["bcg hepb1", "hepb1", "bcg"]),
...          "/data/n": node_values(["5", "", "1"])}
>>> e.boolean(nodes, 3).tolist()
[True, False, False]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

Value = np.ndarray  # shape (n,) or () for a constant
Nodes = Mapping[str, np.ndarray]
_Eval = Callable[[Nodes, int], Value]

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?|\.\d+)|'(?P<string>[^']*)'|\"(?P<dstring>[^\"]*)\""
    r"|(?P<path>(?:/[A-Za-z_][\w.-]*)+)|(?P<op>!=|<=|>=|[=<>+\-*(),])"
    r"|(?P<name>[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?))"
)
_BINARY = (("or",), ("and",), ("=", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "div", "mod"))
_NUMBER = re.compile(r"\s*-?(?:\d+(?:\.\d*)?|\.\d+)\s*")
_DATE_PARTS = re.compile(r"%.")
_EPOCH = np.datetime64("1970-01-01", "D")
_NAT = np.datetime64("NaT", "D")
_STRING, _NUMERIC, _BOOLEAN, _DATE = "O", "f", "b", "M"


class ExpressionError(ValueError):
    """An expression outside the XPath this module evaluates."""


@dataclass(frozen=True)
class Expression:
    """One compiled expression and the absolute node paths it reads."""

    text: str
    paths: frozenset[str]
    _evaluate: _Eval

    def evaluate(self, nodes: Nodes, n: int) -> np.ndarray:
        """The value for each of `n` submissions (strings, numbers, booleans or dates)."""
        return np.broadcast_to(self._evaluate(nodes, n), (n,))

    def boolean(self, nodes: Nodes, n: int) -> np.ndarray:
        """`boolean()` of the value for each of `n` submissions, as `relevant` uses it."""
        return np.array(np.broadcast_to(_boolean(self._evaluate(nodes, n)), (n,)), dtype=bool)


def node_values(texts: Sequence[str | None], kind: str = "string") -> np.ndarray:
    """A node's values as ODK types them from the submitted texts: a `date` bind gives
    `datetime64[D]` (NaT when empty), anything else strings (`''` when empty)."""
    if kind == "date":
        try:
            return np.array([t or "NaT" for t in texts], dtype="datetime64[D]")
        except ValueError:  # not a date: ODK would not have stored it; it counts as empty
            return np.array([_parse_date(t or "") for t in texts], dtype="datetime64[D]")
    return np.array(["" if t is None else t for t in texts], dtype=object)


def compile_expression(text: str) -> Expression:
    """Parse `text`; `ExpressionError` when it uses what this module does not evaluate."""
    tokens = _tokenize(text)
    parser = _Parser(text, tokens)
    evaluate = parser.binary(0)
    if parser.position != len(tokens):
        raise ExpressionError(f"unexpected {tokens[parser.position][1]!r} in {text!r}")
    return Expression(text, frozenset(parser.paths), evaluate)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"cannot read {text[position:]!r} in {text!r}")
        kind = match.lastgroup or ""
        tokens.append(("string" if kind == "dstring" else kind, match[kind]))
        position = match.end()
    return tokens


# -- conversions (XPath 1.0) ----------------------------------------------------------------


def _each(function: Callable[[object], object], values: Value, dtype: object) -> Value:
    """`function` of every element (`tolist()` items: str, float, `datetime.date`, or None
    for NaT), computed once per distinct value: answers repeat a lot."""
    if values.ndim == 0:
        return np.array(function(values.item()), dtype=dtype)
    if values.dtype.kind == _DATE:
        codes, unique = pd.factorize(values.view(np.int64), use_na_sentinel=False)
        items = unique.view(values.dtype).tolist()
    else:
        codes, unique = pd.factorize(values, use_na_sentinel=False)
        items = unique.tolist()
    return np.array([function(v) for v in items], dtype=dtype)[codes]


def _parse_number(text: object) -> float:
    return float(text) if isinstance(text, str) and _NUMBER.fullmatch(text) else math.nan


def _parse_date(text: str) -> np.datetime64:
    try:
        return np.datetime64(text[:10], "D") if re.fullmatch(r"\d{4}-\d\d-\d\d.*", text) else _NAT
    except ValueError:
        return _NAT


def _number_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return str(int(value)) if value.is_integer() else repr(value)


def _number(values: Value) -> Value:
    kind = values.dtype.kind
    if kind == _NUMERIC:
        return values
    if kind == _BOOLEAN:
        return values.astype(float)
    if kind == _DATE:
        days = (values - _EPOCH).astype(np.int64).astype(float)
        return np.where(np.isnat(values), math.nan, days)
    return _each(_parse_number, values, float)


def _string(values: Value) -> Value:
    kind = values.dtype.kind
    if kind == _STRING:
        return values
    if kind == _BOOLEAN:
        return np.where(values, "true", "false").astype(object)
    if kind == _DATE:
        text = np.datetime_as_string(values, unit="D").astype(object)
        return np.where(np.isnat(values), "", text).astype(object)
    return _each(_number_text, values, object)


def _boolean(values: Value) -> Value:
    kind = values.dtype.kind
    if kind == _BOOLEAN:
        return values
    if kind == _NUMERIC:
        return (values != 0) & ~np.isnan(values)
    if kind == _DATE:
        return ~np.isnat(values)
    return _each(lambda v: v != "", values, bool)


def _date(values: Value) -> Value:
    kind = values.dtype.kind
    if kind == _DATE:
        return values
    if kind == _STRING:
        return _each(lambda v: _parse_date(str(v)), values, "datetime64[D]")
    days = _number(values)
    whole = np.floor(np.where(np.isfinite(days), days, 0)).astype(np.int64)
    return np.where(np.isfinite(days), _EPOCH + whole.astype("timedelta64[D]"), _NAT)


# -- operators ------------------------------------------------------------------------------


def _compare(op: str, a: Value, b: Value) -> Value:
    kinds = {a.dtype.kind, b.dtype.kind}
    if op in ("=", "!="):
        if _BOOLEAN in kinds:
            a, b = _boolean(a), _boolean(b)
        elif kinds & {_NUMERIC, _DATE} and kinds != {_DATE, _STRING}:
            a, b = _number(a), _number(b)
        else:
            a, b = _string(a), _string(b)
        return np.asarray(a == b if op == "=" else a != b, dtype=bool)
    x, y = _number(a), _number(b)
    return {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}[op](x, y)


def _arithmetic(op: str, a: Value, b: Value) -> Value:
    x, y = _number(a), _number(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "div":
            return np.true_divide(x, y)
        return np.fmod(x, y)


def _operator(op: str) -> Callable[[Value, Value], Value]:
    if op == "or":
        return lambda a, b: _boolean(a) | _boolean(b)
    if op == "and":
        return lambda a, b: _boolean(a) & _boolean(b)
    if op in ("=", "!=", "<", "<=", ">", ">="):
        return lambda a, b: _compare(op, a, b)
    return lambda a, b: _arithmetic(op, a, b)


# -- functions ------------------------------------------------------------------------------


def _selected(values: Value, choice: Value) -> Value:
    if choice.ndim == 0:
        wanted = str(_string(choice).item())
        return _each(lambda v: wanted in str(v).split(), _string(values), bool)
    pairs = np.broadcast_arrays(_string(values), _string(choice))
    return np.array([c in str(v).split() for v, c in zip(*pairs, strict=True)], dtype=bool)


def _format_date(values: Value, pattern: Value) -> Value:
    if pattern.ndim != 0:
        raise ExpressionError("format-date needs a literal format")
    fmt = str(_string(pattern).item())
    unknown = set(_DATE_PARTS.findall(fmt)) - {"%Y", "%y", "%m", "%n", "%d", "%e"}
    if unknown:
        raise ExpressionError(f"format-date: unsupported {sorted(unknown)} in {fmt!r}")

    def one(day: object) -> str:
        if not isinstance(day, date):
            return ""
        parts = {
            "%Y": f"{day.year:04d}",
            "%y": f"{day.year % 100:02d}",
            "%m": f"{day.month:02d}",
            "%n": str(day.month),
            "%d": f"{day.day:02d}",
            "%e": str(day.day),
        }
        return _DATE_PARTS.sub(lambda m: parts[m[0]], fmt)

    return _each(one, _date(values), object)


def _if(condition: Value, then: Value, otherwise: Value) -> Value:
    if then.dtype.kind != otherwise.dtype.kind:
        then, otherwise = _string(then), _string(otherwise)
    return np.where(_boolean(condition), then, otherwise)


def _concat(*values: Value) -> Value:
    texts = np.broadcast_arrays(*(_string(v) for v in values))
    if texts[0].ndim == 0:
        return np.array("".join(str(t.item()) for t in texts), dtype=object)
    return np.array(["".join(row) for row in zip(*texts, strict=True)], dtype=object)


def _coalesce(a: Value, b: Value) -> Value:
    return np.where(_each(lambda v: v != "", _string(a), bool), _string(a), _string(b))


#: name: (fewest arguments, most arguments or None, function)
_FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., Value]]] = {
    "true": (0, 0, lambda: np.array(True)),
    "false": (0, 0, lambda: np.array(False)),
    "not": (1, 1, lambda v: ~_boolean(v)),
    "boolean": (1, 1, _boolean),
    "number": (1, 1, _number),
    "string": (1, 1, _string),
    "int": (1, 1, lambda v: np.trunc(_number(v))),
    "if": (3, 3, _if),
    "selected": (2, 2, _selected),
    "count-selected": (
        1,
        1,
        lambda v: _each(lambda s: float(len(str(s).split())), _string(v), float),
    ),
    "string-length": (1, 1, lambda v: _each(lambda s: float(len(str(s))), _string(v), float)),
    "format-date": (2, 2, _format_date),
    "concat": (1, None, _concat),
    "coalesce": (2, 2, _coalesce),
}


# -- parser ---------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the tokens, building closures (precedence as XPath 1.0)."""

    def __init__(self, text: str, tokens: list[tuple[str, str]]) -> None:
        self.text, self.tokens, self.position = text, tokens, 0
        self.paths: set[str] = set()

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token is None or (expected is not None and token[1] != expected):
            found = "the end" if token is None else repr(token[1])
            raise ExpressionError(f"expected {expected or 'more'}, found {found} in {self.text!r}")
        self.position += 1
        return token

    def _operator_next(self, level: int) -> str | None:
        token = self._peek()
        if token is None or token[0] not in ("op", "name") or token[1] not in _BINARY[level]:
            return None
        return token[1]

    def binary(self, level: int) -> _Eval:
        if level == len(_BINARY):
            return self._unary()
        left = self.binary(level + 1)
        while (op := self._operator_next(level)) is not None:
            self._take()
            right, apply = self.binary(level + 1), _operator(op)
            left = _bind_binary(apply, left, right)
        return left

    def _unary(self) -> _Eval:
        token = self._peek()
        if token is not None and token == ("op", "-"):
            self._take()
            operand = self._unary()
            return lambda nodes, n: -_number(operand(nodes, n))
        return self._primary()

    def _primary(self) -> _Eval:
        kind, text = self._take()
        if kind == "number":
            constant = np.array(float(text))
            return lambda nodes, n: constant
        if kind == "string":
            literal = np.array(text, dtype=object)
            return lambda nodes, n: literal
        if kind == "path":
            self.paths.add(text)
            return lambda nodes, n: _node(nodes, text, n)
        if text == "(":
            inner = self.binary(0)
            self._take(")")
            return inner
        if kind != "name" or self._peek() != ("op", "("):
            raise ExpressionError(f"unexpected {text!r} in {self.text!r}")
        if text not in _FUNCTIONS:
            raise ExpressionError(f"{text}() is not evaluated here: {self.text!r}")
        self._take("(")
        arguments: list[_Eval] = []
        while self._peek() != ("op", ")"):
            arguments.append(self.binary(0))
            if self._peek() == ("op", ","):
                self._take()
        self._take(")")
        fewest, most, function = _FUNCTIONS[text]
        if len(arguments) < fewest or (most is not None and len(arguments) > most):
            raise ExpressionError(f"{text}() with {len(arguments)} arguments in {self.text!r}")
        return lambda nodes, n: function(*(a(nodes, n) for a in arguments))


def _bind_binary(apply: Callable[[Value, Value], Value], left: _Eval, right: _Eval) -> _Eval:
    return lambda nodes, n: apply(left(nodes, n), right(nodes, n))


def _node(nodes: Nodes, path: str, n: int) -> Value:
    values = nodes.get(path)
    if values is None:
        return np.array("", dtype=object)
    if values.shape != (n,):
        raise ValueError(f"{path}: {values.shape[0] if values.ndim else 0} values, not {n}")
    return values
