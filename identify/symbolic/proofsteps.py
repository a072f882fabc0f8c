"""A relation's proof, step by step: the claimed sum, F substituted, each rewrite, 0.

:func:`proof_steps` replays the simplification that proved a relation (the strategy named in
``Relation.proof``) and records the expression after each rewrite. It recomputes every
step: the last step is 0 because the computation reached 0 again, not because it is
asserted. For relations of non-smooth experts (proved on one smooth piece) the kinks cannot
be resolved here without the reference point; the steps then end with the last expression
reached and say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from identify.model.functions import ELEMENTARY_REWRITE
from identify.symbolic.arbeval import has_kinks, piece_form
from identify.symbolic.family import display_name

__all__ = ["ProofStep", "proof_steps"]


@dataclass(frozen=True)
class ProofStep:
    """One line of a proof: what was done and the expression it gave."""

    title: str
    expr: sympy.Expr

    @property
    def is_zero(self) -> bool:
        return self.expr == 0

    def __str__(self) -> str:
        return f"{self.title}: {sympy.sstr(self.expr)}"

    def to_dict(self) -> dict:
        return {"title": self.title, "expression": sympy.sstr(self.expr)}


# the strategies of identify.symbolic.proofs, split into their rewrites
_REWRITES = {
    "expand": (("expand", sympy.expand),),
    "rewrite to elementary functions, expand": (
        ("rewrite to elementary functions", ELEMENTARY_REWRITE),
        ("expand", sympy.expand)),
    "simplify": (("simplify", sympy.simplify),),
    "rewrite to exp, simplify": (
        ("rewrite to elementary functions, then to exp",
         lambda e: ELEMENTARY_REWRITE(e).rewrite(sympy.exp)),
        ("simplify", sympy.simplify)),
}


def _strategy(proof: str) -> tuple:
    for name in sorted(_REWRITES, key=len, reverse=True):
        if f"({name})" in proof:
            return _REWRITES[name]
    return _REWRITES["simplify"]


def _symbol(name: str) -> sympy.Symbol:
    stem, _, sub = display_name(name).partition("_")
    return sympy.Symbol(f"{stem}_{sub.strip('{}')}" if sub else stem)


def _derivative(member, params: list[str]) -> sympy.Expr:
    """The member as an unevaluated derivative of F, times its x monomial if any."""
    F = sympy.Function("F")(*[_symbol(p) for p in params])
    expr = sympy.Derivative(F, *[_symbol(p) for p in member.derivative]) \
        if member.derivative else F
    if member.multiplier:
        expr = sympy.Mul(*[sympy.Symbol(v) for v in member.multiplier]) * expr
    return expr


def _times(c: sympy.Expr, e: sympy.Expr) -> sympy.Expr:
    if c == 1:
        return e
    if c == -1:
        return -e
    return sympy.Mul(c, e, evaluate=False)


def proof_steps(relation, params: list[str] | None = None) -> tuple[ProofStep, ...]:
    """The proof of ``relation`` as steps: the relation, F substituted, each rewrite, 0.

    Parameters
    ----------
    relation:
        A :class:`~identify.symbolic.relations.Relation` (available as
        ``relation.proof_steps()``).
    params:
        The parameter names F is written as a function of, in order (default: those the
        relation differentiates by, in order of appearance).

    Returns
    -------
    tuple of ProofStep
        ``steps[0]`` is the claimed sum of coefficients times derivatives of F (unevaluated),
        ``steps[1]`` the same sum with each derivative computed, then one step per rewrite of
        the proof's strategy; the last expression is 0 for a relation of a smooth expert.

    Examples
    --------
    >>> from identify import check
    >>> steps = check("tanh(a*x + b)").relations[0].proof_steps()
    >>> steps[-1].expr
    0
    """
    if params is None:
        params = list(dict.fromkeys(n for m, _ in relation.terms for n in m.derivative))
    claim = sympy.Add(*[_times(c, _derivative(m, params)) for m, c in relation.terms],
                      evaluate=False)
    steps = [ProofStep("the relation, as a sum that must vanish", claim)]
    substituted = sympy.Add(*[_times(c, m.expr) for m, c in relation.terms], evaluate=False)
    steps.append(ProofStep("each derivative of F computed", substituted))
    expr = sympy.Add(*[c * m.expr for m, c in relation.terms])
    if expr == 0:
        steps.append(ProofStep("the terms cancel on construction", sympy.Integer(0)))
        return tuple(steps)
    for title, rewrite in _strategy(relation.proof):
        expr = rewrite(expr)
        steps.append(ProofStep(title, expr))
        if expr == 0:
            break
    if expr != 0 and has_kinks(expr):
        for sign, where in ((1, "positive"), (-1, "negative")):
            piece = piece_form(sympy.Add(*[c * m.expr for m, c in relation.terms]),
                               lambda z, sign=sign: sign)
            tail = [ProofStep(f"on the smooth piece where every kink's argument is {where} "
                              "(|z|, sign z, relu z replaced by their form there)", piece)]
            for title, rewrite in _strategy(relation.proof):
                piece = rewrite(piece)
                tail.append(ProofStep(title, piece))
                if piece == 0:
                    break
            if piece == 0:
                return tuple(steps + tail)
        steps.append(ProofStep("not 0 by these steps: the proof resolves each kink on the "
                               "smooth piece of its reference point, which these steps do not",
                               expr))
    return tuple(steps)
