"""The functions a formula may call, as sympy objects.

Three activation functions are sympy :class:`~sympy.core.function.Function`
subclasses so that expressions and their derivatives stay compact:

* :class:`sigmoid` -- ``1/(1 + exp(-z))``, derivative ``sigmoid(z)*(1 - sigmoid(z))``;
* :class:`softplus` -- ``log(1 + exp(z))``, derivative ``sigmoid(z)``;
* :class:`relu` -- ``max(0, z)``, derivative ``Heaviside(z)``.

Each knows its derivative (``fdiff``), its elementary form
(``expr.rewrite(sympy.exp)``, or :func:`ELEMENTARY_REWRITE` to touch only these three)
and evaluates to any precision (``.evalf(60)``) by that form in mpmath, with guard bits
(``log1p`` for softplus, so the tails keep their relative precision).

``relu`` is not differentiable at 0. Its derivative is taken to be
``Heaviside(z)`` (sympy's convention ``Heaviside(0) = 1/2``): the identifiability
analysis holds almost everywhere, i.e. away from the null set where a ``relu``
argument vanishes.

``gelu`` and ``silu`` are plain constructors returning elementary expressions
(``silu`` uses :class:`sigmoid`).
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import sympy
from sympy.core.function import ArgumentIndexError
from sympy.core.sympify import SympifyError

__all__ = [
    "sigmoid",
    "softplus",
    "relu",
    "gelu",
    "silu",
    "FUNCTIONS",
    "CONSTANTS",
    "ELEMENTARY_REWRITE",
]


_GUARD_BITS = 30


class _Activation(sympy.Function):
    """Shared machinery: one argument, real on reals, evalf through the elementary form."""

    nargs = 1

    def _elementary(self, z: sympy.Expr) -> sympy.Expr:  # pragma: no cover - abstract
        raise NotImplementedError

    def _eval_rewrite_as_exp(self, z: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return self._elementary(z)

    def _eval_is_real(self) -> bool | None:
        return True if self.args[0].is_real else None

    def _eval_is_finite(self) -> bool | None:
        return True if self.args[0].is_real else None

    @staticmethod
    def _mp_value(z: mpmath.mpf | mpmath.mpc) -> mpmath.mpf | mpmath.mpc | None:  # pragma: no cover
        raise NotImplementedError

    def _eval_evalf(self, prec: int) -> sympy.Expr | None:
        """Evaluate the elementary form with mpmath, with guard bits for large arguments."""
        arg = self.args[0]
        if not arg.is_number:
            return self.func(arg._evalf(prec))
        work = prec + _GUARD_BITS
        try:
            z = arg._to_mpmath(work)
            if z:
                work += max(0, int(mpmath.mag(z)))
            z = arg._to_mpmath(work)
            with mpmath.workprec(work):
                value = self._mp_value(z)
        except (ValueError, TypeError, ZeroDivisionError, ArithmeticError):
            return None
        if value is None:
            return None
        return sympy.Expr._from_mpmath(value, prec)


class sigmoid(_Activation):  # noqa: N801 - sympy naming convention
    """Logistic function ``sigmoid(z) = 1/(1 + exp(-z))``.

    Parameters
    ----------
    z:
        The argument, a sympy expression.
    """

    @classmethod
    def eval(cls, z: sympy.Expr) -> sympy.Expr | None:  # sympy's Function hook, not Python eval
        if z.is_zero:
            return sympy.S.Half
        if z is sympy.S.Infinity:
            return sympy.S.One
        if z is sympy.S.NegativeInfinity:
            return sympy.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        """Derivative ``sigmoid(z)*(1 - sigmoid(z))``."""
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return self * (1 - self)

    def _elementary(self, z: sympy.Expr) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-z))

    @staticmethod
    def _mp_value(z: mpmath.mpf | mpmath.mpc) -> mpmath.mpf | mpmath.mpc:
        return 1 / (1 + mpmath.exp(-z))

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_real else None


class softplus(_Activation):  # noqa: N801 - sympy naming convention
    """Softplus ``softplus(z) = log(1 + exp(z))``.

    Parameters
    ----------
    z:
        The argument, a sympy expression.
    """

    @classmethod
    def eval(cls, z: sympy.Expr) -> sympy.Expr | None:  # sympy's Function hook, not Python eval
        if z.is_zero:
            return sympy.log(2)
        if z is sympy.S.Infinity:
            return sympy.S.Infinity
        if z is sympy.S.NegativeInfinity:
            return sympy.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        """Derivative ``sigmoid(z)``."""
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(self.args[0])

    def _elementary(self, z: sympy.Expr) -> sympy.Expr:
        return sympy.log(1 + sympy.exp(z))

    @staticmethod
    def _mp_value(z: mpmath.mpf | mpmath.mpc) -> mpmath.mpf | mpmath.mpc:
        return mpmath.log1p(mpmath.exp(z))

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_real else None


class relu(_Activation):  # noqa: N801 - sympy naming convention
    """Rectified linear unit ``relu(z) = max(0, z)``.

    The derivative is ``Heaviside(z)``; at ``z = 0`` it is a convention, so results
    built on it hold almost everywhere.

    Parameters
    ----------
    z:
        The argument, a sympy expression.
    """

    @classmethod
    def eval(cls, z: sympy.Expr) -> sympy.Expr | None:  # sympy's Function hook, not Python eval
        if z.is_extended_nonnegative:
            return z
        if z.is_extended_nonpositive:
            return sympy.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        """Derivative ``Heaviside(z)`` (almost everywhere)."""
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sympy.Heaviside(self.args[0])

    def _elementary(self, z: sympy.Expr) -> sympy.Expr:
        return z * sympy.Heaviside(z)

    def _eval_rewrite_as_Heaviside(self, z: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return z * sympy.Heaviside(z)

    def _eval_rewrite_as_Max(self, z: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return sympy.Max(0, z)

    def _eval_rewrite_as_Piecewise(self, z: sympy.Expr, **kwargs: object) -> sympy.Expr:
        return sympy.Piecewise((z, z > 0), (0, True))

    @staticmethod
    def _mp_value(z: mpmath.mpf | mpmath.mpc) -> mpmath.mpf | None:
        if isinstance(z, mpmath.mpc):
            if z.imag:
                return None
            z = z.real
        return z if z > 0 else mpmath.mpf(0)

    def _eval_is_nonnegative(self) -> bool | None:
        return True if self.args[0].is_real else None


def _expr(z: object) -> sympy.Basic:
    """A sympy object or a Python number as a sympy object; anything else (text above all)
    is refused: these helpers receive trees the whitelisting parser built, never user text."""
    if isinstance(z, sympy.Basic):
        return z
    if isinstance(z, bool) or not isinstance(z, int | float):
        raise SympifyError(z)  # as sympy's strict conversion would, without any parser
    return sympy.Integer(z) if isinstance(z, int) else sympy.Float(z)


def gelu(z: sympy.Expr) -> sympy.Expr:
    """Gaussian error linear unit ``z*(1 + erf(z/sqrt(2)))/2``.

    Parameters
    ----------
    z:
        The argument, a sympy expression.

    Returns
    -------
    sympy.Expr
        An elementary expression (no custom function class).
    """
    z = _expr(z)
    return z * (1 + sympy.erf(z / sympy.sqrt(2))) / 2


def silu(z: sympy.Expr) -> sympy.Expr:
    """Sigmoid linear unit (swish) ``z*sigmoid(z)``.

    Parameters
    ----------
    z:
        The argument, a sympy expression.

    Returns
    -------
    sympy.Expr
        ``z*sigmoid(z)``.
    """
    z = _expr(z)
    return z * sigmoid(z)


def ELEMENTARY_REWRITE(expr: sympy.Expr) -> sympy.Expr:  # noqa: N802 - public name
    """Replace :class:`sigmoid`, :class:`softplus` and :class:`relu` by pure sympy.

    Unlike ``expr.rewrite(sympy.exp)``, other functions (``tanh``, ``erf``, ...) are
    left alone.

    Parameters
    ----------
    expr:
        Any sympy expression.

    Returns
    -------
    sympy.Expr
        The same expression with ``sigmoid(z) -> 1/(1 + exp(-z))``,
        ``softplus(z) -> log(1 + exp(z))`` and ``relu(z) -> z*Heaviside(z)``,
        also inside derivatives and nested arguments.
    """
    expr = _expr(expr)
    return expr.replace(
        lambda e: isinstance(e, _Activation),
        lambda e: e._elementary(e.args[0]),
    )


FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "sqrt": sympy.sqrt,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "tanh": sympy.tanh,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "atan": sympy.atan,
    "erf": sympy.erf,
    "abs": sympy.Abs,
    "sigmoid": sigmoid,
    "softplus": softplus,
    "gelu": gelu,
    "silu": silu,
    "relu": relu,
}
"""User-facing function name -> sympy constructor of one argument."""

CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi}
"""User-facing constant name -> sympy value."""
