"""Relations and members as sympy equations, printed as MathML or LaTeX by sympy."""

from __future__ import annotations

import re

import sympy
from sympy.core.function import AppliedUndef
from sympy.printing.mathml import MathMLPresentationPrinter

from identify.symbolic.family import Member
from identify.symbolic.relations import Relation

__all__ = ["member_expr", "relation_eq", "to_mathml", "to_latex", "formula_expr"]


def _display_symbol(name: str) -> sympy.Symbol:
    """beta1 -> beta_1, beta1_2 -> beta_{12}, a_e1 -> a_{e1}: how sympy prints subscripts."""
    m = re.fullmatch(r"([A-Za-z]+?)(\d*)(?:_(\w+))?", name)
    if not m:
        return sympy.Symbol(name)
    stem, digits, rest = m.groups()
    sub = digits + (rest or "")
    return sympy.Symbol(f"{stem}_{sub}" if sub else stem)


def member_expr(member: Member, params: list[str], base: str = "F") -> sympy.Expr:
    """The member as an unevaluated derivative of F(theta), times x monomials if any."""
    F = sympy.Function(base)(*[_display_symbol(p) for p in params])
    expr: sympy.Expr = F
    if member.derivative:
        expr = sympy.Derivative(F, *[_display_symbol(p) for p in member.derivative])
    if member.multiplier:
        expr = sympy.Mul(*[sympy.Symbol(v) for v in member.multiplier], evaluate=False) * expr
    return expr


def relation_eq(rel: Relation, params: list[str], base: str = "F") -> sympy.Eq:
    """The relation as lhs = rhs, positive terms on the left (as in ``Relation.text``)."""
    sub = {sympy.Symbol(p, real=True): _display_symbol(p) for p in params}
    lhs, rhs = [], []
    for m, c in rel.terms:
        c = c.xreplace(sub)
        term = sympy.Mul(c, member_expr(m, params, base), evaluate=False) if c != 1 else \
            member_expr(m, params, base)
        positive = (c.as_coeff_Mul()[0] > 0) if c.is_number or not c.is_Add else \
            sympy.Poly(c).coeffs()[0] > 0
        if positive:
            lhs.append(term)
        else:
            rhs.append(sympy.Mul(-c, member_expr(m, params, base), evaluate=False)
                       if -c != 1 else member_expr(m, params, base))
    left = sympy.Add(*lhs, evaluate=False) if lhs else sympy.Integer(0)
    right = sympy.Add(*rhs, evaluate=False) if rhs else sympy.Integer(0)
    return sympy.Eq(left, right, evaluate=False)


class _Presentation(MathMLPresentationPrinter):
    """sympy's presentation printer, keeping an undefined function's name as written (sympy
    lowercases it: F would print as f)."""

    def mathml_tag(self, e):
        if isinstance(e, AppliedUndef):
            return e.func.__name__
        return super().mathml_tag(e)


def to_mathml(expr: sympy.Basic, display: bool = False) -> str:
    """Presentation MathML (no JavaScript needed in any current browser)."""
    body = _Presentation().doprint(expr)
    mode = ' display="block"' if display else ""
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML"{mode}>{body}</math>'


def to_latex(expr: sympy.Basic) -> str:
    return sympy.latex(expr)


def formula_expr(expr: sympy.Expr) -> sympy.Expr:
    """An expression with parameter names shown with subscripts (beta1 -> beta_1)."""
    return expr.xreplace({s: _display_symbol(s.name) for s in expr.free_symbols})
