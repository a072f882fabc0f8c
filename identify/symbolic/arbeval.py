"""Compile sympy expressions to rigorous ball-arithmetic evaluators (python-flint ``arb``).

Every entry of a collocation matrix is evaluated at exact rational points in ball
arithmetic: the ball returned is guaranteed to contain the true value, so a determinant
whose ball excludes zero is a *proof* that the minor is nonzero.

Compilation builds a tree of closures once (after common-subexpression elimination);
no code is generated as text and nothing is ``eval``-ed. Rational constants are made
exact (``arb(p) / q`` at the working precision), never rounded through a float.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction

import flint
import sympy
from flint import arb

from identify.errors import IdentifyError
from identify.model import functions as fn

__all__ = ["ArbProgram", "workprec", "to_arb", "NonSmoothPoint", "piece_form", "has_kinks"]

Closure = Callable[[list], arb]


class NonSmoothPoint(ArithmeticError):
    """A point lies on a kink of a non-smooth function (relu, abs): pick another point."""


@contextlib.contextmanager
def workprec(bits: int) -> Iterator[None]:
    """Evaluate with ``bits`` bits of working precision, restoring the previous value after."""
    old = flint.ctx.prec
    flint.ctx.prec = int(bits)
    try:
        yield
    finally:
        flint.ctx.prec = old


def to_arb(value: Fraction | int | sympy.Rational) -> arb:
    """An exact rational as a ball at the current precision (exact when it is dyadic)."""
    if isinstance(value, sympy.Rational):
        value = Fraction(int(value.p), int(value.q))
    value = Fraction(value)
    if value.denominator == 1:
        return arb(value.numerator)
    return arb(value.numerator) / value.denominator


def _side(z: arb) -> int:
    """The sign of a kink function's argument; a ball containing 0 is a point on the kink."""
    if z > 0:
        return 1
    if z < 0:
        return -1
    raise NonSmoothPoint("a point on a kink (argument 0)")


def _dirac(z: arb) -> arb:
    # Non-smooth experts are analysed almost everywhere: off the kink the delta vanishes.
    _side(z)
    return arb(0)


# piece value of each kink function given the side s of its argument z
_KINKS: dict[type, Callable[[arb, int], arb]] = {
    sympy.Abs: lambda z, s: z * s,
    sympy.sign: lambda z, s: arb(s),
    sympy.Heaviside: lambda z, s: arb(1 if s > 0 else 0),
    fn.relu: lambda z, s: z if s > 0 else arb(0),
}


def piece_form(expr: sympy.Expr, side: Callable[[sympy.Expr], int]) -> sympy.Expr:
    """Replace every kink function by its smooth form on the piece where its argument has
    the sign ``side(argument)``: Abs(z) -> +-z, sign(z) -> +-1, Heaviside(z) and relu(z) ->
    (1, z) or (0, 0)."""
    def repl(e: sympy.Basic) -> sympy.Expr:
        z = e.args[0]
        sgn = side(z)
        if isinstance(e, sympy.Abs):
            return sgn * z
        if isinstance(e, sympy.sign):
            return sympy.Integer(sgn)
        if isinstance(e, sympy.Heaviside):
            return sympy.Integer(1 if sgn > 0 else 0)
        return z if sgn > 0 else sympy.Integer(0)  # relu

    kinds = tuple(_KINKS)
    return expr.replace(lambda e: isinstance(e, kinds), repl)


def _sigmoid(z: arb) -> arb:
    return 1 / (1 + (-z).exp())


def _softplus(z: arb) -> arb:
    return z.exp().log1p()


_UNARY: dict[type, Callable[[arb], arb]] = {
    sympy.exp: arb.exp,
    sympy.log: arb.log,
    sympy.sin: arb.sin,
    sympy.cos: arb.cos,
    sympy.tan: arb.tan,
    sympy.tanh: arb.tanh,
    sympy.sinh: arb.sinh,
    sympy.cosh: arb.cosh,
    sympy.atan: arb.atan,
    sympy.erf: arb.erf,
    sympy.erfc: arb.erfc,
    sympy.DiracDelta: _dirac,
    fn.sigmoid: _sigmoid,
    fn.softplus: _softplus,
}


class ArbProgram:
    """Evaluate a list of sympy expressions in ball arithmetic.

    Parameters
    ----------
    exprs:
        The expressions.
    symbols:
        The symbols, in the order values are passed to :meth:`__call__`.
    """

    def __init__(self, exprs: Sequence[sympy.Expr], symbols: Sequence[sympy.Symbol]):
        self.symbols = tuple(symbols)
        self.n_out = len(exprs)
        index = {s: i for i, s in enumerate(self.symbols)}
        replacements, reduced = sympy.cse(list(exprs), order="none")
        self._steps: list[Closure] = []
        for sym, sub in replacements:
            self._steps.append(self._compile(sub, index))
            index[sym] = len(index)
        self._outputs = [self._compile(e, index) for e in reduced]

    def __call__(self, values: Sequence[arb]) -> list[arb]:
        """Evaluate at ``values`` (balls, in the order of ``symbols``) at the current precision.

        Raises :class:`NonSmoothPoint` when the point lies on a kink. Afterwards
        ``self.pattern`` holds the sides of every kink argument met: points with the same
        pattern lie on the same smooth piece.
        """
        self._sides: list[int] = []
        env = list(values)
        for step in self._steps:
            env.append(step(env))
        out = [o(env) for o in self._outputs]
        self.pattern = tuple(self._sides)
        return out

    # -- compilation -------------------------------------------------------------------------
    def _compile(self, e: sympy.Basic, index: dict) -> Closure:
        if e in index:
            i = index[e]
            return lambda env: env[i]
        if e.is_Integer:
            n = int(e)
            return lambda env: arb(n)
        if e.is_Rational:
            p, q = int(e.p), int(e.q)
            return lambda env: arb(p) / q
        if e is sympy.pi:
            return lambda env: arb.pi()
        if e is sympy.E:
            return lambda env: arb.const_e()
        if isinstance(e, sympy.Float):
            text = str(e)
            return lambda env: arb(text)
        if e.is_Add:
            parts = [self._compile(a, index) for a in e.args]
            def add(env: list) -> arb:
                total = parts[0](env)
                for p in parts[1:]:
                    total = total + p(env)
                return total
            return add
        if e.is_Mul:
            parts = [self._compile(a, index) for a in e.args]
            def mul(env: list) -> arb:
                total = parts[0](env)
                for p in parts[1:]:
                    total = total * p(env)
                return total
            return mul
        if e.is_Pow:
            base = self._compile(e.base, index)
            ex = e.exp
            if ex.is_Integer:
                k = int(ex)
                if k >= 0:
                    return lambda env: base(env) ** k
                return lambda env: 1 / base(env) ** (-k)
            if ex == sympy.Rational(1, 2):
                return lambda env: base(env).sqrt()
            if ex == sympy.Rational(-1, 2):
                return lambda env: base(env).rsqrt()
            power = self._compile(ex, index)
            return lambda env: base(env) ** power(env)
        if isinstance(e, sympy.Function) and type(e) in _KINKS:
            piece = _KINKS[type(e)]
            arg = self._compile(e.args[0], index)

            def kink(env: list) -> arb:
                z = arg(env)
                s = _side(z)
                self._sides.append(s)
                return piece(z, s)
            return kink
        if isinstance(e, sympy.Function) and type(e) in _UNARY:
            f = _UNARY[type(e)]
            arg = self._compile(e.args[0], index)  # Heaviside's optional H(0) is ignored
            return lambda env: f(arg(env))
        raise IdentifyError(f"cannot evaluate {type(e).__name__} in ball arithmetic: {e}",
                            hint="use the whitelisted functions only")


def is_finite(values: Sequence[arb]) -> bool:
    """True when every ball is finite (no nan / infinite radius)."""
    return all(v.is_finite() for v in values)


def has_kinks(expr: sympy.Expr) -> bool:
    """True when ``expr`` contains a kink function (abs, sign, Heaviside, relu)."""
    return expr.has(*_KINKS)
