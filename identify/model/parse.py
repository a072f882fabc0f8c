"""Safe parsing of user formulas into sympy expressions.

The text is parsed by :func:`ast.parse` (``mode="eval"``) and the tree is walked against
an explicit whitelist, building the sympy expression node by node: nothing of the text is
ever evaluated (no ``eval``, ``exec``, ``compile``, ``sympify`` or ``parse_expr``). Every
refusal raises :class:`~identify.errors.FormulaError` (``where="formula"``) with one line
naming the offending piece and, where it helps, its column.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
import warnings
from collections.abc import Callable, Collection, Sequence
from typing import Any

import mpmath
import sympy

from identify.errors import FormulaError
from identify.model.functions import CONSTANTS, FUNCTIONS

__all__ = ["parse_formula", "make_symbol", "INPUT_PATTERN"]

INPUT_PATTERN = re.compile(r"x\d*")
"""Names that look like inputs (matched in full): ``x``, ``x1``, ``x12``, ..."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_MAX_DIGITS = 30  # integer literals; floats must be below 10**30
_MAX_EXPONENT = 100  # |numeric exponent|
_MAX_BITS = 10_000  # exact numbers (about 3000 digits); |log2| of any numeric value
_MAX_DEPTH = 100  # nesting of calls, powers, unary operators (long sums do not count)
_GROWTH = dict.fromkeys(["exp", "sinh", "cosh", "tanh", "sigmoid", "softplus", "silu"], 5000)
_GROWTH.update(erf=100, gelu=100)  # largest |numeric argument| (exp(5000) ~ 2**7200)
_ALLOWED = ", ".join(sorted(FUNCTIONS))
_error = functools.partial(FormulaError, where="formula")
_BINOPS: dict[type, Callable[[sympy.Expr, sympy.Expr], sympy.Expr]] = {  # ** is apart
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}  # fmt: skip
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_OPERATORS = {
    ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitAnd: "&", ast.Invert: "~", ast.Not: "not",
}  # fmt: skip
_REFUSED = {  # construct -> what the message calls it
    ast.Lambda: "lambda is", ast.Subscript: "subscripts are", ast.Compare: "comparisons are",
    ast.IfExp: "conditional expressions (if/else) are", ast.BoolOp: "and/or are",
    ast.Tuple: "tuples are", ast.List: "lists are", ast.Set: "sets are", ast.Dict: "dicts are",
    ast.ListComp: "comprehensions are", ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are", ast.GeneratorExp: "comprehensions are",
    ast.JoinedStr: "string literals are", ast.NamedExpr: "assignment expressions (:=) are",
}  # fmt: skip


@functools.cache
def make_symbol(name: str) -> sympy.Symbol:
    """``sympy.Symbol(name, real=True)``, for inputs and parameters; cached (same object)."""
    return sympy.Symbol(name, real=True)


def parse_formula(
    text: str, inputs: Sequence[str], *, reserved: Collection[str] = (), max_length: int = 1000
) -> sympy.Expr:
    """Parse a formula such as ``"tanh(a*x + b)"`` into a sympy expression.

    Parameters
    ----------
    text:
        The formula in Python syntax: ``+ - * / **``, parentheses, int and float literals
        (floats become exact rationals of their decimal text), names, and calls of the
        functions in :data:`identify.model.functions.FUNCTIONS`. It may span lines.
    inputs:
        The input names, e.g. ``["x1", "x2"]``.
    reserved:
        Names the formula may not use (e.g. the gate's parameters). If a mapping, its
        values complete the message "'name' is reserved for ...".
    max_length:
        Longest text accepted, in characters.

    Returns
    -------
    sympy.Expr
        Inputs and parameters (other identifiers) are :func:`make_symbol` symbols, ``pi``
        is :data:`sympy.pi`. Whether parameters are present is not checked.

    Raises
    ------
    FormulaError
        For anything outside the whitelist, numbers too large, undefined values
        (``1/0``, ``log(0)``) and constants that are not real (``sqrt(-1)``).
    """
    if not isinstance(text, str):
        raise _error(f"the formula must be a string, not {type(text).__name__}")
    if len(text) > max_length:
        raise _error(f"the formula has {len(text)} characters; the limit is {max_length}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    body = text.strip()
    if not body:
        raise _error("empty formula")
    builder = _Builder(body, text[: len(text) - len(text.lstrip())], tuple(inputs), reserved)
    bad = next((c for c in body if (ord(c) < 32 and c not in "\t\n") or c == "\x7f"), None)
    if bad is not None:
        where = builder.position(body.index(bad), chars=True)
        raise _error(f"syntax error{where}: the control character U+{ord(bad):04X} is not "
                     "allowed")
    if "#" in body:
        raise _error(f"comments are not allowed{builder.position(body.index('#'), chars=True)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(builder.flat, mode="eval")
        return builder.apply(tree.body, builder.check_real, builder.build(tree.body, 0))
    except SyntaxError as exc:
        where = builder.position((exc.offset or 1) - 1, chars=True)
        raise _error(f"syntax error{where}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise _error("the formula is nested too deeply") from None


def _short(thing: object, limit: int = 60) -> str:
    """``str(thing)`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(thing).split())  # numbers are capped below the int-to-str limit
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bits(expr: sympy.Expr) -> int:
    """Bits of the largest numerator or denominator in ``expr``; a root of a number
    (``3**(1/7)``) counts its denominator times max(bits, 100): sympy's work grows with it."""
    size = lambda r: max(int(r.p).bit_length(), int(r.q).bit_length())  # noqa: E731
    roots = [p for p in expr.atoms(sympy.Pow) if p.base.is_Rational and p.exp.is_Rational]
    sizes = [int(p.exp.q) * max(size(p.base), 100) for p in roots]
    return max([size(r) for r in expr.atoms(sympy.Rational)] + sizes, default=1)


def _numeric(expr: sympy.Expr) -> Any:
    """Low-precision mpmath value of a numeric expression; 0 if it cannot be evaluated."""
    try:
        return expr._to_mpmath(64)
    except Exception:  # noqa: BLE001 - unknown is fine: this only guards against huge values
        return 0


class _Builder:
    """Walks a parsed formula and builds the sympy expression."""

    def __init__(self, text: str, lead: str, inputs: tuple[str, ...], reserved: Collection[str]):
        self.text, self.lead, self.inputs, self.reserved = text, lead, inputs, reserved
        self.flat = text.replace("\n", " ").replace("\0", "\1")  # NUL: a syntax error

    def position(self, col: int, *, chars: bool = False) -> str:
        """`` at column N`` (or `` at line L, column N``), 1-based, in the original text."""
        if not chars:  # ast offsets count UTF-8 bytes
            col = len(self.flat.encode()[:col].decode(errors="replace"))
        before = self.lead + self.text[:col]
        lineno, col = before.count("\n") + 1, len(before) - before.rfind("\n") - 1
        return f" at column {col + 1}" if lineno == 1 else f" at line {lineno}, column {col + 1}"

    def at(self, node: ast.AST) -> str:
        """Where ``node`` starts; for a binary operation, where its operator is."""
        if isinstance(node, ast.BinOp):
            start = node.left.end_col_offset or 0
            gap = self.flat.encode()[start : node.right.col_offset].decode(errors="replace")
            return self.position(start + len(gap.encode()) - len(gap.lstrip(" \t()").encode()))
        return self.position(getattr(node, "col_offset", 0))

    def source(self, node: ast.AST) -> str:
        return _short(ast.get_source_segment(self.flat, node) or ast.unparse(node))

    def fail(self, message: str, node: ast.AST | None = None) -> FormulaError:
        return _error(message + (f" ({self.at(node).strip()})" if node is not None else ""))

    def build(self, node: ast.AST, depth: int) -> sympy.Expr:
        """The sympy expression of ``node``, refusing anything outside the whitelist."""
        if depth > _MAX_DEPTH:
            raise self.fail(f"the formula is nested more than {_MAX_DEPTH} levels deep", node)
        handlers = {ast.BinOp: self.binop, ast.UnaryOp: self.unaryop, ast.Call: self.call,
                    ast.Constant: self.constant, ast.Name: self.name}  # fmt: skip
        if type(node) in handlers:
            return handlers[type(node)](node, depth)
        if isinstance(node, ast.Attribute):
            raise self.fail(f"attribute access '{self.source(node)}' is not allowed", node)
        what = _REFUSED.get(type(node), f"'{type(node).__name__.lower()}' expressions are")
        raise self.fail(f"{what} not allowed", node)

    def apply(self, node: ast.AST, operation: Callable[..., Any], *args: sympy.Expr) -> Any:
        """Run one sympy operation; refuse its errors, undefined results and huge numbers."""
        try:
            result = operation(*args)
            value = result.is_number and not result.is_Rational and _numeric(result)
            huge = _bits(result) > _MAX_BITS or bool(value and abs(mpmath.mag(value)) > _MAX_BITS)
            undefined = result.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)
        except Exception as exc:  # sympy failing on odd input is the formula's fault
            if isinstance(exc, (RecursionError, MemoryError, FormulaError)):
                raise
            problem = f"{type(exc).__name__}: {_short(exc)}"
            raise self.fail(f"cannot evaluate '{self.source(node)}' ({problem})") from None
        if undefined:
            where = self.source(node)
            raise self.fail(f"the formula is undefined (division by zero?) in '{where}'")
        if huge:
            raise self.fail(f"the numbers in '{self.source(node)}' are too large", node)
        return result

    def check_real(self, expr: sympy.Expr) -> sympy.Expr:
        """Refuse constants that are not real, such as ``sqrt(-1)`` or ``log(-2)``."""
        for sub in sympy.preorder_traversal(expr):
            if sub.is_number and sub.is_extended_real is False:
                raise self.fail(f"the formula has a constant that is not real: {_short(sub)}")
        return expr

    def unaryop(self, node: ast.UnaryOp, depth: int) -> sympy.Expr:
        if type(node.op) not in _UNARY:
            raise self.fail(f"operator '{_OPERATORS.get(type(node.op))}' is not allowed", node)
        return self.apply(node, _UNARY[type(node.op)], self.build(node.operand, depth + 1))

    def binop(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        """Binary operators; left-nested chains (``a + b + c``) are folded without recursion."""
        chain: list[ast.BinOp] = []
        left: ast.AST = node
        while isinstance(left, ast.BinOp) and type(left.op) in _BINOPS:
            chain.append(left)
            left = left.left
        if isinstance(node.op, ast.Pow):
            chain, left = [node], node.left
        elif isinstance(node.op, ast.BitXor):
            raise self.fail("'^' is not a power in Python syntax; use **", node)
        elif not chain:
            raise self.fail(f"operator '{_OPERATORS.get(type(node.op))}' is not allowed", node)
        value = self.build(left, depth + 1)
        for link in reversed(chain):
            operation = _BINOPS.get(type(link.op)) or functools.partial(self.power, link)
            value = self.apply(link, operation, value, self.build(link.right, depth + 1))
        return value

    def power(self, node: ast.BinOp, base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
        """``base**exponent``; refuse numeric exponents above 100 and huge exact numbers."""
        size = exponent.is_number and abs(exponent if exponent.is_Number else _numeric(exponent))
        if size > _MAX_EXPONENT:
            limit = f"its absolute value must be at most {_MAX_EXPONENT}"
            raise self.fail(f"the exponent in '{self.source(node)}' is too large ({limit})", node)
        denominator = exponent.q if base.is_number and exponent.is_Rational else 1
        if exponent.is_Number and _bits(base) * max(abs(exponent), denominator) > _MAX_BITS:
            raise self.fail(f"the numbers in '{self.source(node)}' are too large", node)
        return base**exponent

    def constant(self, node: ast.Constant, depth: int = 0) -> sympy.Expr:
        """Int and float literals; floats become the exact rational of their decimal text."""
        value, text = node.value, self.source(node)
        if isinstance(value, bool):
            raise self.fail("boolean literals (True/False) are not allowed", node)
        if isinstance(value, int):
            if value.bit_length() > 4 * _MAX_DIGITS or len(str(value)) > _MAX_DIGITS:
                raise self.fail(f"the integer '{text}' has more than {_MAX_DIGITS} digits", node)
            return sympy.Integer(value)
        if isinstance(value, float):
            if not abs(value) < 10.0**_MAX_DIGITS:  # also inf and nan
                raise self.fail(f"the number '{text}' is too large", node)
            mantissa = text.lower().split("e")[0]
            if (value == 0 and any(c in "123456789" for c in mantissa)) or \
                    0 < abs(value) < 10.0**-_MAX_DIGITS:
                raise self.fail(f"the number '{text}' is too small (below 1e-{_MAX_DIGITS})",
                                node)
            return sympy.Rational(repr(value))
        what = {complex: "complex literals are", str: "string literals are"}.get(type(value))
        what = what or ("string literals are" if isinstance(value, bytes) else f"'{text}' is")
        raise self.fail(f"{what} not allowed", node)

    def name(self, node: ast.Name, depth: int = 0) -> sympy.Expr:
        """Inputs, ``pi`` and parameters; everything else that looks like a name is refused."""
        name = node.id
        if name.startswith("_") or "__" in name:
            raise self.fail(f"the name '{name}' is not allowed (no leading '_', no '__')", node)
        if name in self.inputs:
            return make_symbol(name)
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise self.fail(f"'{name}' is a function; call it as {name}(...)", node)
        if name in self.reserved:
            reason = getattr(self.reserved, "get", {}.get)(name) or "the gate's parameters"
            raise self.fail(f"'{name}' is reserved for {reason}", node)
        if INPUT_PATTERN.fullmatch(name) or name == "y":
            dim, listed = len(self.inputs), ", ".join(self.inputs)
            known = f"the inputs are {listed} (dim={dim})" if dim else "there are no inputs"
            raise _error(f"'{name}' looks like an input, but {known}")
        if not _NAME.fullmatch(name):
            raise self.fail(f"the name '{name}' is not allowed; use [A-Za-z][A-Za-z0-9_]*", node)
        return make_symbol(name)

    def call(self, node: ast.Call, depth: int) -> sympy.Expr:
        """Calls of whitelisted functions with exactly one positional argument."""
        func = node.func
        if not isinstance(func, ast.Name):
            self.build(func, depth + 1)  # refuses lambda, attribute access, ... by name
            raise self.fail(f"calling '{self.source(func)}' is not allowed", node)
        name = func.id
        if name not in FUNCTIONS:
            raise _error(f"unknown function '{name}'{self.at(func)}; allowed: {_ALLOWED}")
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise self.fail(f"keyword or starred arguments are not allowed in {name}(...)", node)
        if len(node.args) != 1:
            raise self.fail(f"{name}(...) takes exactly one argument, got {len(node.args)}", node)
        argument, limit = self.build(node.args[0], depth + 1), _GROWTH.get(name, 0)
        if limit and argument.is_number and abs(_numeric(argument)) > limit:  # keep it evaluable
            raise self.fail(f"the argument of {name}(...) is larger than {limit}", node)
        return self.apply(node, FUNCTIONS[name], argument)
