"""Relations and members as sympy equations, printed as MathML or LaTeX by sympy."""

from __future__ import annotations

import sympy
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter

from identify.symbolic.family import Member, display_name
from identify.symbolic.relations import Relation

__all__ = ["member_expr", "relation_eq", "to_mathml", "to_latex", "formula_expr"]


def _display_symbol(name: str) -> sympy.Symbol:
    """beta1 -> beta_1, beta1_2 -> beta_{1,2}, a_e1 -> a_{e1}: the subscripts of
    :func:`~identify.symbolic.family.display_name`, in the form sympy's printers read."""
    text = display_name(name)
    stem, _, sub = text.partition("_")
    return sympy.Symbol(f"{stem}_{sub.strip('{}')}" if sub else stem)


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
    lowercases it: F would print as f) and printing derivatives as the partial derivatives they
    are, with the order on the variable: the second derivative in beta_1 is
    ∂²F/∂β₁² (sympy writes ∂²/∂²β₁, and d for functions of one variable)."""

    def mathml_tag(self, e):
        if isinstance(e, AppliedUndef):
            return e.func.__name__
        return super().mathml_tag(e)

    def _print_Derivative(self, e):
        def partial(power: int | None = None):
            mo = self.dom.createElement("mo")
            mo.appendChild(self.dom.createTextNode("\u2202"))
            return self._power(mo, power)

        num = self.dom.createElement("mrow")
        num.appendChild(partial(e.derivative_count))
        den = self.dom.createElement("mrow")
        for var, count in e.variable_count:
            den.appendChild(partial())
            den.appendChild(self._power(self._print(var), count))
        frac = self.dom.createElement("mfrac")
        frac.appendChild(num)
        frac.appendChild(den)
        row = self.dom.createElement("mrow")
        row.appendChild(frac)
        row.appendChild(self._print(e.expr))
        return row

    def _power(self, base, power: int | None):
        if power is None or power == 1:
            return base
        sup = self.dom.createElement("msup")
        sup.appendChild(base)
        mn = self.dom.createElement("mn")
        mn.appendChild(self.dom.createTextNode(str(power)))
        sup.appendChild(mn)
        return sup


def _latex_derivative(printer, e) -> str:
    """Partial derivatives always, the order on the variable: \\frac{\\partial^{2}}{\\partial
    \\beta_{1}^{2}} F."""
    den = " ".join(r"\partial " + (printer._print(v) if c == 1 else f"{printer._print(v)}^{{{c}}}")
                   for v, c in e.variable_count)
    n = e.derivative_count
    num = r"\partial" if n == 1 else rf"\partial^{{{n}}}"
    return rf"\frac{{{num}}}{{{den}}} {printer._print(e.expr)}"


class _Latex(LatexPrinter):
    def _print_Derivative(self, e):
        return _latex_derivative(self, e)


def to_mathml(expr: sympy.Basic, display: bool = False) -> str:
    """Presentation MathML (no JavaScript needed in any current browser)."""
    body = _Presentation().doprint(expr)
    mode = ' display="block"' if display else ""
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML"{mode}>{body}</math>'


def to_latex(expr: sympy.Basic) -> str:
    """LaTeX by sympy's printer, with partial derivatives written as in the MathML."""
    return _Latex().doprint(expr)


def formula_expr(expr: sympy.Expr) -> sympy.Expr:
    """An expression with parameter names shown with subscripts (beta1 -> beta_1)."""
    return expr.xreplace({s: _display_symbol(s.name) for s in expr.free_symbols})
