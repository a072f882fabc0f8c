"""The Taylor expansion of one atom's function in its parameters, over independent functions.

For a model, F(x[, y]; theta) is the gate's product (`Model.product`, what `check` analyses).
At a generic *rational* true atom theta*, every Taylor coefficient d^alpha F(theta*) / alpha!
is written as a rational combination of *monomials*: products of powers of the inputs and of
"generator" functions (exp of a polynomial in the inputs, tanh(z*), sigmoid(z*), the Gaussian
density, ...). The coefficient of each monomial m_j is then a polynomial p_j(Delta) with
rational coefficients: F(theta* + Delta) = sum_j p_j(Delta) m_j(x) + O(|Delta|^(r+1)).

The monomials are *certified* linearly independent functions by a nonzero minor of their
collocation matrix in ball arithmetic (symbolic/arbeval.py, linalg.py); when that fails the
expansion says so and every rate built on it is "inconclusive".

Normalised gates (softmax-type): f_G - f_G* = [sum_i w_i k_i(x) (h_i - f_G*)] / denominator,
so each atom also contributes -k(x; theta) Phi(x) with Phi = f_G* (or p_G*(y|x)) a function
of the *other* atoms too: the monomials k-derivative * Phi. Phi is not evaluated: its
independence from the single-atom monomials is the papers' assumption, stated in the
output (docs/rates-derivation.md discusses the translation relation it hides).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import sympy

from identify.errors import IdentifyError
from identify.model.functions import sigmoid
from identify.model.model import Model
from identify.symbolic.arbeval import ArbProgram, NonSmoothPoint, has_kinks, is_finite, to_arb, workprec
from identify.symbolic.linalg import eliminate
from identify.symbolic.points import PointSampler
from identify.theory.nonsmooth import (
    FIRST_ORDER_NOTE,
    MOVING_KINK_REASON,
    KinkMoves,
    first_order_form,
    fix_kinks,
    moving_kinks,
)
from identify.theory.series import taylor_series

__all__ = ["Monomial", "Expansion", "expand_model", "PHI", "KINK_REASON"]

PHI = sympy.Symbol("Phi")  # the normaliser's generic function f_G* (or p_G*(y|x))
_PRECISIONS = (128, 256, 512, 1024)
KINK_REASON = MOVING_KINK_REASON  # the name the callers know


@dataclass(frozen=True)
class Monomial:
    """One function of the inputs: ``expr`` (exact), ``label`` for printing."""

    label: str
    expr: sympy.Expr
    normaliser: bool = False  # contains Phi
    powers: tuple = ()  # exponents of the inputs
    key: tuple = ()  # (exp part, generator factors)

    def to_dict(self) -> dict:
        return {"label": self.label, "normaliser": self.normaliser}


@dataclass(frozen=True)
class Expansion:
    """F(theta* + Delta) = sum_j p_j(Delta) m_j, to total order ``order`` in Delta.

    ``coefficients[j]`` maps an exponent tuple alpha (one entry per parameter) to the
    rational coefficient of Delta^alpha in p_j. ``independent`` is True when the
    non-normaliser monomials are certified independent (``certificate`` says how), None
    when no certificate was reached.
    """

    model: Model
    order: int
    parameters: tuple[sympy.Symbol, ...]
    atom: dict
    monomials: tuple[Monomial, ...]
    coefficients: tuple[dict, ...]
    normaliser: bool
    independent: bool | None
    certificate: str
    seconds: float = 0.0

    def block_of(self) -> tuple[str, ...]:
        """The block name of every parameter, in order."""
        names = {s: b.name for b in self.model.blocks for s in b.symbols}
        return tuple(names[s] for s in self.parameters)

    def to_dict(self) -> dict:
        return {"order": self.order, "parameters": [s.name for s in self.parameters],
                "atom": {s.name: str(v) for s, v in self.atom.items()},
                "monomials": [m.to_dict() for m in self.monomials],
                "normaliser_terms": self.normaliser, "independent": self.independent,
                "certificate": self.certificate}


def _normalised(model: Model) -> bool:
    """Gates whose weights are exp(beta0) normalised by a sum over atoms (softmax-type)."""
    from identify.theory.affine import has_mixing_weight
    return has_mixing_weight(model.gate)


def atom_function(model: Model, normaliser: bool) -> sympy.Expr:
    """F (or F - kernel * Phi for a normalised gate)."""
    F = model.product()
    if not normaliser:
        return F
    comp = model.component
    kernel = model.gate.product(model.expert.inputs, replace(comp, expr=sympy.Integer(1)))[0]
    return F - sympy.simplify(kernel) * PHI


def logistic_form(F: sympy.Expr) -> tuple[sympy.Expr, str]:
    """F with every 1/(1 + exp(u)) written through sigmoid(u) = exp(u)/(1 + exp(u)), or F.

    A two-expert inner softmax (hierarchical gate) is (exp(u) h1 + h2)/(exp(u) + 1); expanded
    as it stands, its monomials satisfy exp(u)/(1 + exp(u)) + 1/(1 + exp(u)) = 1 and cannot be
    certified independent. In sigmoid(u) it is sigmoid(u) h1 + (1 - sigmoid(u)) h2. The rewrite
    is kept only when the difference is proved 0 by exact simplification."""
    dens = [p.base for p in F.atoms(sympy.Pow) if p.exp == -1 and p.base.is_Add
            and len(p.base.args) == 2 and sympy.Integer(1) in p.base.args
            and any(isinstance(a, sympy.exp) for a in p.base.args)]
    out = F
    for den in dens:
        e = next(a for a in den.args if isinstance(a, sympy.exp))
        q, t = sympy.Dummy("q"), sympy.Dummy("t")
        G = out.subs(e, q)
        if G.has(e.args[0]) and any(isinstance(a, sympy.exp) and a.args[0] == e.args[0]
                                    for a in G.atoms(sympy.exp)):
            continue
        G = sympy.cancel(sympy.together(G.subs(q, t / (1 - t))))
        if G.has(q):
            continue
        out = G.subs(t, sigmoid(e.args[0]))
    if out is F:
        return F, ""
    diff = sympy.simplify((out - F).rewrite(sympy.exp))
    if diff != 0:
        return F, ""
    return out, ("exp(u)/(1 + exp(u)) written as sigmoid(u), proved equal by exact "
                 "simplification")


def generic_atom(model: Model, seed: int) -> dict:
    params = model.parameters
    positive = {s for b in model.blocks if b.positive for s in b.symbols}
    (atom,) = PointSampler(seed).atoms(params, 1, positive)
    return {s: sympy.Rational(v.numerator, v.denominator) for s, v in atom.items()}


def crossing_atom(model: Model, F: sympy.Expr, seed: int) -> dict:
    """A generic atom at which every kink of F crosses the input domain [-2, 2]^d with a fair
    share on each side (pieces.kinks_cross); the first of a deterministic sequence of draws.

    An atom whose relu is dead (or active) on the whole domain analyses another family (0, or
    the linear expert), so the derivation's answer would depend on the draw."""
    from fractions import Fraction

    from identify.symbolic.pieces import kinks_cross
    params, inputs = model.parameters, tuple(model.inputs)
    for k in range(64):
        atom = generic_atom(model, seed + 7919 * k)
        exact = {s: Fraction(int(v.p), int(v.q)) for s, v in atom.items()}
        if kinks_cross(F, inputs, params, exact, seed=seed):
            return atom
    raise IdentifyError("no atom found (64 draws) at which every kink crosses the input domain "
                        "[-2, 2]^d on both sides", hint="the derived rates are not available here")


def _split_term(term: sympy.Expr, inputs: Sequence[sympy.Symbol]):
    """(numeric coefficient, input exponents, generator key) of one product term."""
    powers = [0] * len(inputs)
    numeric = []
    exp_arg = sympy.Integer(0)
    gens = []
    index = {s: i for i, s in enumerate(inputs)}
    for f in sympy.Mul.make_args(term):
        base, ex = f.as_base_exp()
        if isinstance(f, sympy.exp) or (isinstance(base, sympy.exp) and ex.is_Integer):
            exp_arg += (f.args[0] if isinstance(f, sympy.exp) else base.args[0] * ex)
        elif not (f.free_symbols & set(inputs)) and f != PHI:
            numeric.append(f)
        elif base in index and ex.is_Integer and ex > 0:
            powers[index[base]] += int(ex)
        else:
            gens.append(f)
    exp_arg = sympy.expand(exp_arg)
    const, dep = exp_arg.as_independent(*inputs, as_Add=True)
    if const != 0:
        numeric.append(sympy.exp(const))
    return sympy.Mul(*numeric), tuple(powers), (dep, tuple(sorted(gens, key=sympy.default_sort_key)))


def _monomial_label(powers, key, inputs) -> str:
    parts = [f"{s.name}^{k}" if k > 1 else s.name for s, k in zip(inputs, powers, strict=True) if k]
    dep, gens = key
    if dep != 0:
        parts.append(f"exp({sympy.sstr(dep)})")
    parts += [sympy.sstr(g) for g in gens]
    return "*".join(parts) or "1"


def _coefficients(F: sympy.Expr, params, atom, inputs, order: int):
    """The Taylor coefficients over monomials: {(powers, key): {alpha: Rational}}, ref numbers."""
    us = [sympy.Dummy(f"u_{s.name}") for s in params]
    extra = tuple(inputs) + ((PHI,) if F.has(PHI) else ())
    ser = taylor_series(F, {s: (atom[s], u) for s, u in zip(params, us, strict=True)}, order,
                        extra)
    nu, ni = len(us), len(inputs)
    gens = ser.ring.symbols
    canon: dict = {}
    table: dict[tuple, dict[tuple, sympy.Rational]] = {}
    refs: dict[tuple, sympy.Expr] = {}
    for c in ser.coeffs:
        for monom, coeff in c.terms():
            alpha = tuple(monom[:nu])
            powers = monom[nu:nu + ni]
            gkey = monom[nu + ni:]
            if gkey not in canon:
                g = sympy.Mul(*[s ** k for s, k in zip(gens[nu + ni:], gkey, strict=True) if k])
                canon[gkey] = _split_term(sympy.expand(g.xreplace(ser.values)), inputs)
            num, pw, key = canon[gkey]
            mono = (tuple(a + b for a, b in zip(powers, pw, strict=True)), key)
            nrat, nrest = num.as_coeff_Mul()
            if mono not in refs:
                refs[mono] = nrest
                ratio = sympy.Integer(1)
            elif nrest == refs[mono]:
                ratio = sympy.Integer(1)
            else:
                ratio = sympy.simplify(nrest / refs[mono])
                if not ratio.is_Rational:
                    raise IdentifyError(f"cannot write the Taylor coefficients with rational "
                                        f"coefficients ({sympy.sstr(nrest)} vs "
                                        f"{sympy.sstr(refs[mono])})")
            row = table.setdefault(mono, {})
            q = sympy.Rational(int(coeff.numerator), int(coeff.denominator)) * nrat * ratio
            row[alpha] = row.get(alpha, 0) + q
    return table, refs


def _collocate(exprs: Sequence[sympy.Expr], inputs, seed: int) -> tuple[bool, str]:
    """A nonzero minor of the collocation matrix of ``exprs`` (ball arithmetic)."""
    prog = ArbProgram(list(exprs), inputs)
    n = len(exprs)
    sampler = PointSampler(seed + 7)
    points: list = []
    tries = 0
    # a kink (relu(x), Heaviside(u*)) makes every monomial vanish on a side: more points
    want = (n + 4) * (4 if any(has_kinks(e) for e in exprs) else 1)
    while len(points) < want and tries < 50 * want:
        tries += 1
        p = sampler.input_point(len(inputs))
        if p not in points:  # distinct points (1-D draws collide often)
            points.append(p)
    for bits in _PRECISIONS:
        with workprec(bits):
            rows = []
            for p in points:
                try:
                    vals = prog([to_arb(v) for v in p])
                except NonSmoothPoint:
                    continue
                if is_finite(vals):
                    rows.append(vals)
            if len(rows) < n:
                continue
            elim = eliminate(rows)
            if elim.rank == n:
                return True, f"|det| in {elim.determinant().str(5)} ({bits} bits)"
    return False, ""


def _certify(monos: Sequence[Monomial], inputs, seed: int) -> tuple[bool | None, str]:
    """Certify the monomials linearly independent: nonzero minors in ball arithmetic.

    When the monomials' exp factors are E times factors free of an input s, and s occurs
    only as a power s^k outside E (y in the Gaussian MoE), a relation sum c_j m_j = 0 divided by E is a
    polynomial in s whose coefficients must vanish: the monomials split into groups by the
    power of s, each certified on its own with s fixed (E != 0 there). Smaller minors, the
    same conclusion.
    """
    if not monos:
        return True, "no monomial to certify"
    inputs = tuple(inputs)
    split = []
    if monos[0].key:
        base = monos[0].key[0]
        extras = [sympy.expand(m.key[0] - base) for m in monos]
        for i, v in enumerate(inputs):
            if not any(g.has(v) for m in monos for g in m.key[1]) and \
                    not any(e.has(v) for e in extras):
                split.append(i)
    groups: dict[tuple, list[Monomial]] = {}
    for m in monos:
        groups.setdefault(tuple(m.powers[i] for i in split) if split else (), []).append(m)
    rest = [v for i, v in enumerate(inputs) if i not in split]
    fixed = {inputs[i]: sympy.Rational(3, 7) for i in split}
    dets = []
    for gkey, group in groups.items():
        if split:
            scale = sympy.Mul(*[inputs[i] ** k for i, k in zip(split, gkey, strict=True)])
            exprs = [(m.expr / scale).subs(fixed) for m in group]
        else:
            exprs = [m.expr for m in group]
        ok, det = _collocate(exprs, rest or inputs, seed)
        if not ok:
            return None, (f"no certificate that the {len(monos)} monomials are independent "
                          f"(rank not reached up to {_PRECISIONS[-1]} bits): they may satisfy "
                          "a relation")
        dets.append(f"{len(group)}x{len(group)}: {det}")
    how = (f"split by the powers of {', '.join(inputs[i].name for i in split)} outside the "
           f"common exp factor, {len(groups)} groups" if split else "one matrix")
    shown = "; ".join(dets[:3]) + ("; ..." if len(dets) > 3 else "")
    return True, (f"nonzero minors of the collocation matrices of the {len(monos)} monomials at "
                  f"rational points, ball arithmetic ({how}): {shown}")


def expand_model(model: Model, order: int, *, seed: int = 0, normaliser: bool | None = None,
                 atom: dict | None = None) -> Expansion:
    """Expand one atom's function to total order ``order`` at a generic rational atom."""
    import time
    start = time.perf_counter()
    if not isinstance(order, int) or isinstance(order, bool) or not 1 <= order <= 8:
        raise IdentifyError(f"the expansion order must be an integer from 1 to 8, got {order!r}")
    if normaliser is None:
        normaliser = _normalised(model)
    F, rewrite = logistic_form(atom_function(model, normaliser))
    params = model.parameters
    inputs = tuple(model.inputs)
    kink_notes: list[str] = []
    if has_kinks(F):
        atom = atom if atom is not None else crossing_atom(model, F, seed)
        F, kink_notes = fix_kinks(F, params, inputs, atom)
        if moving_kinks(F, params):
            first = first_order_form(F, params, inputs, atom)  # the jump / transversality errors
            if order > 1:
                raise KinkMoves(MOVING_KINK_REASON, hint="the exact-fit (order-1) cell is "
                                "derived; over-fitted cells only through an exact split or "
                                "the bounds from the smooth pieces (identify rates)")
            F = first
            kink_notes.append(FIRST_ORDER_NOTE)
    atom = atom if atom is not None else generic_atom(model, seed)
    table, refs = _coefficients(F, params, atom, inputs, order)
    monos, coefs = [], []
    for (powers, key), row in table.items():
        row = {a: c for a, c in row.items() if c != 0}
        if not row:
            continue
        dep, gens = key
        expr = sympy.Mul(*[s ** k for s, k in zip(inputs, powers, strict=True)]) * sympy.exp(dep) * \
            sympy.Mul(*gens) * refs[(powers, key)]
        monos.append(Monomial(_monomial_label(powers, key, inputs), expr, PHI in gens, powers,
                              key))
        coefs.append(row)
    plain = [m for m in monos if not m.normaliser]
    independent, cert = _certify(plain, inputs, seed)
    if rewrite:
        cert += f"; {rewrite}"
    for note in kink_notes:
        cert += f"; {note}"
    if normaliser:
        cert += ("; the normaliser monomials (times Phi = f_G*) are independent of them by the "
                 "papers' assumption (not certified)")
    return Expansion(model, order, tuple(params), dict(atom), tuple(monos), tuple(coefs),
                     normaliser, independent, cert, time.perf_counter() - start)
