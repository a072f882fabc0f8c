"""Kinks in the atom function, made fit for the Taylor expansion (or shown unfit).

The cell argument (theory.md section 6) needs F(x; theta* + Delta) expanded in Delta. A family
built from relu, abs, sign or Heaviside has kinks: the zero sets of those functions'
arguments. Three cases, decided from the formula at the (generic, rational) true atom:

1. **The kink does not move.** The argument factors as z = c(theta) v(x) with c free of
   the inputs, v free of the parameters and c(theta*) != 0 (``relu(a*x)``, ``|a x|``). On the
   neighbourhood where c keeps the sign sigma of c(theta*) the kink function is, exactly,

       relu(c v) = sigma c relu(sigma v),   |c v| = sigma c |v|,
       sign(c v) = sigma sign(v),           Heaviside(c v) = Heaviside(sigma v),

   (positive homogeneity; each rewrite is proved by exact simplification with
   relu(z) = (z + |z|)/2 and a positive symbol for sigma c). F is then analytic in the
   parameters with the fixed functions relu(v), |v|, ... among its "generators": the
   expansion exists to every order.

2. **A continuous kink moves** (``relu(a*x + b)``, the Laplace gate's ``|W - x|``). F is not
   twice differentiable where the kink passes (d^2/db^2 relu(a x + b) = delta(a x + b)), so
   no expansion of order >= 2 exists. The *first-order* expansion does, in L2: with
   u(x; theta) the argument, u* = u(x; theta*),

       relu(u) - relu(u*) - H(u*) (u - u*)

   vanishes except where u and u* have opposite signs, a set of inputs of probability
   O(|Delta|) when X has a bounded density on a bounded domain and u* is affine in x with a
   nonzero gradient (the kink crosses transversally); there it is at most |u - u*| =
   O(|Delta|). Its L2 norm is therefore O(|Delta|^(3/2)) = o(|Delta|), and the same holds after
   composition with the smooth rest of F. That is all the exact-fit (level-1) argument needs,
   so for order 1 the kink function is replaced by its first-order form relu(u) -> u H(u*),
   |u| -> u sign(u*), whose Taylor coefficients of order <= 1 are the same.

3. **A jump moves** (sign or Heaviside of a moving argument), or a moving kink is not
   transversal (argument not affine in x at the atom): not even the first-order expansion
   is available; the expansion refuses with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy

from identify.errors import IdentifyError
from identify.model.functions import relu
from identify.symbolic.arbeval import _KINKS

__all__ = ["KinkMoves", "KINK_FUNCTIONS", "kink_free", "fix_kinks", "first_order_form",
           "moving_kinks", "MOVING_KINK_REASON", "JUMP_REASON", "FIRST_ORDER_NOTE"]

KINK_FUNCTIONS = tuple(_KINKS)  # relu, abs, sign, Heaviside (symbolic/arbeval.py)
_KINDS = KINK_FUNCTIONS
_CONTINUOUS = (relu, sympy.Abs)

MOVING_KINK_REASON = (
    "the atom function has a kink whose location moves with the parameters (relu(a x + b), "
    "the Laplace gate's |W - x|): it is not twice differentiable there (d^2/db^2 relu(a x + b) "
    "= delta(a x + b), not a function), so the Taylor expansion of order >= 2 that the "
    "over-fitted cell argument uses does not exist; the first-order remainder is of order "
    "|Delta|^(3/2) in L2 (an error of size |Delta| on a set of width |Delta| around the kink), a "
    "half-integer order that the integer-level systems cannot represent")
JUMP_REASON = (
    "the atom function has a jump (sign or Heaviside) whose location moves with the "
    "parameters: it is not differentiable in L2 (an error of size 1 on a set of width |Delta| "
    "has norm |Delta|^(1/2)), so no expansion exists, not even of order 1")
FIRST_ORDER_NOTE = (
    "first-order L2 expansion across a moving kink: the kink function is replaced by its "
    "first-order form (relu(u) -> u H(u*), |u| -> u sign(u*), u* the argument at the true "
    "atom, affine in x with a nonzero gradient); the remainder is O(|Delta|^(3/2)) in L2 for "
    "inputs with a bounded density on a bounded domain (an error O(|Delta|) on a set of "
    "probability O(|Delta|)), o(|Delta|) as the level-1 argument needs")


class KinkMoves(IdentifyError):
    """The expansion of order >= 2 does not exist: a kink moves with the parameters."""


def _kinks(F: sympy.Expr, params: set) -> list[sympy.Expr]:
    """The kink-function instances of F whose argument depends on the parameters."""
    return sorted((e for e in F.atoms(*_KINDS) if e.args and e.args[0].free_symbols & params),
                  key=sympy.default_sort_key)


def moving_kinks(F: sympy.Expr, params: Sequence[sympy.Symbol]) -> list[sympy.Expr]:
    """Kink instances whose argument depends on the parameters (after :func:`fix_kinks`, the
    ones whose location moves)."""
    return _kinks(F, set(params))


def _factor(z: sympy.Expr, params: set, inputs: Sequence[sympy.Symbol]):
    """(c, v) with z = c v, c free of the inputs, v free of the parameters; or None."""
    c, v = sympy.factor_terms(z).as_independent(*inputs, as_Add=False)
    if not c.free_symbols & params or v.free_symbols & params or not v.free_symbols:
        return None
    return c, v


def _rewrite(e: sympy.Expr, c: sympy.Expr, v: sympy.Expr, sigma: int) -> sympy.Expr:
    if isinstance(e, relu):
        return sigma * c * relu(sigma * v)
    if isinstance(e, sympy.Abs):
        return sigma * c * sympy.Abs(v)
    if isinstance(e, sympy.sign):
        return sigma * sympy.sign(v)
    return sympy.Heaviside(sigma * v)


def _proved(e: sympy.Expr, v: sympy.Expr, sigma: int) -> bool:
    """The rewrite of ``e`` = f(c v), checked exactly with sigma c = p > 0."""
    p = sympy.Symbol("p_positive", positive=True)
    original = e.func(sigma * p * v)
    rewritten = _rewrite(e, sigma * p, v, sigma)

    return sympy.simplify(kink_free(original) - kink_free(rewritten)) == 0


def kink_free(expr: sympy.Expr) -> sympy.Expr:
    """relu(z) = (z + |z|)/2 and Heaviside(z) = (1 + sign(z))/2 (off the kink): forms in which
    sympy's |s z| = s |z| and sign(s z) = sign(z) (s > 0) do the proofs."""
    expr = expr.replace(lambda t: isinstance(t, relu),
                        lambda t: (t.args[0] + sympy.Abs(t.args[0])) / 2)
    return expr.replace(lambda t: isinstance(t, sympy.Heaviside),
                        lambda t: (1 + sympy.sign(t.args[0])) / 2)


def fix_kinks(F: sympy.Expr, params: Sequence[sympy.Symbol], inputs: Sequence[sympy.Symbol],
              atom: dict) -> tuple[sympy.Expr, list[str]]:
    """F with every kink that does not move written through a parameter-free kink (case 1).

    Returns the new F and one line of proof per rewrite; kinks that move are left alone."""
    pset = set(params)
    notes: list[str] = []
    for _ in range(4):  # nested kinks: the inner ones first
        mapping = {}
        for e in _kinks(F, pset):
            z = e.args[0]
            if any(k.args and k.args[0].free_symbols & pset for k in z.atoms(*_KINDS)):
                continue  # a moving kink inside: later round
            split = _factor(z, pset, inputs)
            if split is None:
                continue
            c, v = split
            c0 = c.subs(atom)
            if not c0.is_Rational or c0 == 0:
                continue
            sigma = 1 if c0 > 0 else -1
            if not _proved(e, v, sigma):  # pragma: no cover - the identities are lemmas
                continue
            mapping[e] = _rewrite(e, c, v, sigma)
            notes.append(f"{sympy.sstr(e)} = {sympy.sstr(mapping[e])} where "
                         f"{sympy.sstr(c)} {'>' if sigma > 0 else '<'} 0 (a neighbourhood of the "
                         "true atom; positive homogeneity, proved by exact simplification)")
        if not mapping:
            break
        F = F.xreplace(mapping)
    return F, notes


def first_order_form(F: sympy.Expr, params: Sequence[sympy.Symbol],
                     inputs: Sequence[sympy.Symbol], atom: dict) -> sympy.Expr:
    """F with every moving kink replaced by its first-order form (case 2), or IdentifyError."""
    pset = set(params)
    mapping = {}
    for e in _kinks(F, pset):
        if not isinstance(e, _CONTINUOUS):
            raise IdentifyError(JUMP_REASON, hint="the derived rates are not available here")
        z = e.args[0]
        if z.atoms(*_KINDS):
            raise IdentifyError("a kink nested inside a moving kink's argument: the first-order "
                                "L2 expansion is not handled", hint="the derived rates are not "
                                "available here")
        z0 = sympy.expand(z.subs(atom))
        poly = sympy.Poly(z0, *inputs) if z0.is_polynomial(*inputs) else None
        if poly is None or poly.total_degree() > 1 or \
                all(poly.coeff_monomial(s) == 0 for s in inputs):
            raise IdentifyError(
                f"the moving kink of {sympy.sstr(e)} is not affine in the inputs with a nonzero "
                "gradient at the true atom, so its crossing is not shown transversal and the "
                "first-order L2 expansion is not proved", hint="the derived rates are not "
                "available here")
        side = sympy.Heaviside(z0) if isinstance(e, relu) else sympy.sign(z0)
        mapping[e] = z * side
    return F.xreplace(mapping)
