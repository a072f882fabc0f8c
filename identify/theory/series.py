"""Truncated Taylor series of an expression in a scale t: F(theta* + t u) = sum_k c_k t^k.

Automatic Taylor expansion over the expression tree (sums, products, powers, exp and
the whitelisted functions): every coefficient c_k is a polynomial with rational
coefficients in the directions u, the inputs and *placeholder* symbols that stand for the
values of non-polynomial functions at theta* (exp(a0), tanh(a0), f^(k)(a0), sqrt(6), pi...).
The arithmetic is exact polynomial arithmetic (sympy's sparse ring over QQ), much faster
than differentiating the whole expression |alpha| times.
"""

from __future__ import annotations

import math

import sympy
from sympy import QQ
from sympy.polys.rings import ring

from identify.errors import IdentifyError
from identify.theory.exactcheck import exact_number

__all__ = ["taylor_series", "Series"]

POOL = 64


class Series:
    """The result: ``coeffs[k]`` (ring elements), the ring's generators split by kind."""

    def __init__(self, coeffs, ring_, us, inputs, placeholders, values):
        self.coeffs = coeffs
        self.ring = ring_
        self.us = us
        self.inputs = inputs
        self.placeholders = placeholders
        self.values = values  # placeholder symbol -> its expression


def taylor_series(expr: sympy.Expr, shift: dict, r: int, extra: tuple = ()) -> Series:
    """Coefficients c_0..c_r of expr(theta -> theta* + t u) over the rationals.

    ``shift`` maps each parameter symbol to (value theta*, direction symbol u); ``extra``
    lists the input-like symbols (x, y, Phi) that stay symbols.
    """
    us = tuple(u for _, u in shift.values())
    pool = tuple(sympy.Dummy(f"g{i}") for i in range(POOL))
    R, *gens = ring(list(us) + list(extra) + list(pool), QQ)
    values: dict[sympy.Symbol, sympy.Expr] = {}
    by_expr: dict[sympy.Expr, sympy.Symbol] = {}
    keep = set(extra)

    def place(e: sympy.Expr) -> sympy.Expr:
        """``e`` with every maximal non-polynomial subexpression replaced by a placeholder."""
        if e.is_Rational or e in keep:
            return e
        if e.is_Add or e.is_Mul:
            return e.func(*[place(a) for a in e.args])
        if e.is_Pow and e.exp.is_Integer and e.exp > 0:
            return place(e.base) ** e.exp
        if e not in by_expr:
            if len(values) >= POOL:
                raise IdentifyError("the expansion needs too many distinct function values")
            s = pool[len(values)]
            by_expr[e] = s
            values[s] = e
        return by_expr[e]

    def to_ring(e: sympy.Expr):
        return R.from_expr(place(sympy.expand(e))) if e != 0 else R.zero

    def value(c) -> sympy.Expr:
        return R.to_sympy(c).xreplace(values) if hasattr(R, "to_sympy") else c.as_expr().xreplace(values)

    def mul(a: list, b: list) -> list:
        out = [R.zero] * (r + 1)
        for i, ai in enumerate(a):
            if not ai:
                continue
            for j in range(r + 1 - i):
                if b[j]:
                    out[i + j] += ai * b[j]
        return out

    def compose(derivs: list, s: list) -> list:
        """sum_k derivs[k] s^k / k! with s[0] == 0."""
        out = [R.zero] * (r + 1)
        power = [R.one] + [R.zero] * r
        for k in range(r + 1):
            if k:
                power = mul(power, s)
            if not derivs[k]:
                continue
            coef = derivs[k] * QQ(1, math.factorial(k))
            for i in range(r + 1):
                if power[i]:
                    out[i] += coef * power[i]
        return out

    memo: dict = {}
    z = sympy.Dummy("z")
    params = set(shift)

    def go(e: sympy.Expr) -> list:
        if e in memo:
            return memo[e]
        zeros = [R.zero] * r
        if e in shift:
            v, u = shift[e]
            point = exact_number(v)
            if point is None:
                raise IdentifyError(f"the expansion point {e} = {v!r} is not an exact number",
                                    where="series")
            out = ([to_ring(point), R(u)] + zeros[1:])[: r + 1]
        elif not (e.free_symbols & params):
            out = [to_ring(e)] + zeros
        elif e.is_Add:
            out = [R.zero] * (r + 1)
            for a in e.args:
                out = [p + q for p, q in zip(out, go(a), strict=True)]
        elif e.is_Mul:
            out = [R.one] + zeros
            for a in e.args:
                out = mul(out, go(a))
        elif e.is_Pow and e.exp.is_Integer and e.exp > 0:
            base = go(e.base)
            out = [R.one] + zeros
            for _ in range(int(e.exp)):
                out = mul(out, base)
        elif e.is_Pow and not (e.exp.free_symbols & params):
            base = go(e.base)
            b0 = value(base[0])
            ex = e.exp
            derivs = [to_ring(sympy.ff(ex, k) * b0 ** (ex - k)) for k in range(r + 1)]
            out = compose(derivs, [R.zero] + base[1:])
        elif isinstance(e, sympy.Function) and len(e.args) == 1:
            arg = go(e.args[0])
            a0 = value(arg[0])
            d = e.func(z)
            derivs = []
            for _ in range(r + 1):
                derivs.append(to_ring(d.subs(z, a0)))
                d = sympy.diff(d, z)
            out = compose(derivs, [R.zero] + arg[1:])
        else:
            raise IdentifyError(f"cannot expand {sympy.sstr(e)} in its parameters")
        memo[e] = out
        return out

    coeffs = go(expr)
    used = tuple(pool[: len(values)])
    return Series(coeffs, R, us, tuple(extra), used, values)
