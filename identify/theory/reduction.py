"""Reduce an undecided cell system to the r-bar system plus a decidable complement.

A cell system (theory.md section 6) is a set of equations ``E_k = sum_i w_i q_k(u_i)``
over m atoms with weights ``w_i > 0`` and perturbations ``u_i``; non-trivial means some
``u_i != 0``. Suppose two of the per-atom unknowns, ``p`` and ``q``, are such that the span
of the ``q_k`` contains, after the renaming ``s1 = c1 u_p``, ``s2 = c2 u_q`` (rational
``c1, c2 != 0``), every per-atom polynomial of the r-bar system's levels 1..L
(``sum_{n1 + 2 n2 = l} s1^n1 s2^n2 / (n1! n2!)``). Then every solution of the cell system
(w > 0, some u != 0) falls in one of three cases:

1. some ``u_{p,i} != 0``: by the same exact linear combinations of its equations it gives
   a non-trivial solution of the r-bar system at level L (weights ``w_i = s3_i^2 > 0``,
   some ``s1_i != 0``): impossible once L >= r-bar(m) (the levels are nested);
2. every ``u_{p,i} = 0``, some ``u_{q,i} != 0``: impossible for L >= 4, as the r-bar levels
   with s1 = 0 force s2 = 0 (level 4 reads ``sum_i w_i s2_i^2 / 2 = 0``), checked below;
3. every ``u_{p,i} = u_{q,i} = 0``: a solution of the *complement*, the cell system with
   ``u_p = u_q = 0`` in every atom and some other unknown non-zero.

So if case 2 and the complement have no real solution, the cell system has none,
*conditional on* r-bar(m) <= L. ``solvability.rbar(m)`` says what that rests on: decided by
machine for m = 2 (then the answer is plain "no solution"); for m >= 3 the lower bound is
an exact Gauss-Hermite witness and the upper bound (r-bar(m) = 2m) the [D] argument citing
Kalai-Moitra-Valiant 2010, Prop. 7 (the answer is CONDITIONAL). Nothing here is keyed on a
model: the search runs over every ordered pair of per-atom unknowns of the polynomial
system it is given, and what it finds is checked on that system.

What is machine-checked: the cell form of every equation (sympy ``expand == 0``); each r-bar
level-l equation, after the renaming and rescaling, as a rational combination of the
system's equations (sympy ``expand == 0``); cases 2 and 3, first by exact elimination
(an equation ``sum_i w_i c u_{j,i}^(2k) = 0`` with ``w_i > 0`` forces ``u_j = 0``), then, for
what is left, by ``decide`` (z3 and cvc5, cross-checked).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy as sp

from identify.theory.decide import Decision, decide, equation_expr
from identify.theory.exactcheck import check_witness
from identify.theory.rbarmatch import (
    RbarMatch,
    _per_atom,
    _r,
    _rbar_atom,
    _roles,
    _Span,
    find_rbar_subsystems,
)
from identify.theory.solvability import IndexValue, rbar, rbar_system

__all__ = ["RbarMatch", "Reduction", "find_rbar_subsystems", "reduce_level", "lifted_witness",
           "CONDITIONAL"]

CONDITIONAL = "no solution (conditional)"  # the status when the r-bar upper bound is cited


@dataclass(frozen=True)
class Reduction:
    """The outcome: ``status`` "no solution" (every step machine-checked), CONDITIONAL
    (the r-bar upper bound cited), "solution" (the complement's witness, re-checked exactly
    on the whole system) or "not reduced" (``reason`` says why)."""

    status: str
    reason: str
    match: RbarMatch | None = None
    complement: Decision | None = None
    index: IndexValue | None = None
    tried: int = 0  # r-bar subsystems found whose complement was decided
    witness: dict | None = None  # status "solution": checked exactly on the whole system
    s2_only: Decision | None = None  # the r-bar system with every s1 = 0: only s2 = 0

    @property
    def assumes(self) -> str:
        """The cited claim a CONDITIONAL answer rests on ("" when none)."""
        if self.status != CONDITIONAL or self.index is None:
            return ""
        return (f"r-bar({self.index.m}) <= {self.match.level}: r-bar({self.index.m}) = "
                f"{self.index.value} by the [D] argument citing Kalai-Moitra-Valiant 2010 "
                f"Prop. 7 (not machine-checked)")

    def certificate(self) -> str:
        if self.status == "solution" and self.complement is None:
            return self.reason
        if self.match is None or self.complement is None:
            return f"not reduced: {self.reason}"
        head = ("reduced to r-bar" if self.status != "not reduced" else
                "r-bar subsystem found, not reduced")
        parts = [f"{head}: {self.match.text()}",
                 f"with {self.match.s1} = 0 in every atom the r-bar levels force "
                 f"{self.match.s2} = 0: {_said(self.s2_only)}",
                 f"the complement ({self.match.s1} = {self.match.s2} = 0 in every atom): "
                 + _said(self.complement)]
        if self.index is not None:
            parts.append(f"r-bar({self.index.m}) = {self.index.value}: {self.index.provenance}")
        if self.status == CONDITIONAL:
            parts.append(f"so no solution, conditional on {self.assumes}")
        elif self.status == "no solution":
            parts.append(f"so no solution (r-bar({self.index.m}) <= {self.match.level} decided "
                         "by machine)")
        else:
            parts.append(self.reason)
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {"status": self.status, "reason": self.reason, "assumes": self.assumes,
                "match": None if self.match is None else self.match.to_dict(),
                "complement": None if self.complement is None else self.complement.to_dict(),
                "s1_zero_case": None if self.s2_only is None else self.s2_only.to_dict(),
                "index": None if self.index is None else self.index.to_dict(),
                "witness": None if self.witness is None else
                {str(k): str(v) for k, v in self.witness.items()},
                "certificate": self.certificate()}


def _said(d: Decision | None) -> str:
    if d is None:
        return "not decided"
    head = "no real solution" if d.status == "no solution" else d.status
    return f"{head} ({d.certificate})"


def reduce_level(equations, weights, atoms, *, timeout: float = 60.0, rlimit=None) -> Reduction:
    """Decide a cell system through an r-bar subsystem and its complement (module docstring).

    The first r-bar subsystem (largest level, then by position) with L >= r-bar(m) whose
    case 2 (s1 = 0) and complement have no solution gives the answer: "no solution" when
    r-bar(m) is decided by machine (``rbar(m).machine_checked``), else CONDITIONAL; a
    complement's witness gives "solution". With every subsystem at L <= 2m - 1 instead, the
    lifted Gauss-Hermite witness (:func:`lifted_witness`) gives "solution" when it applies."""
    weights, atoms = tuple(weights), tuple(tuple(a) for a in atoms)
    m = len(weights)
    qs = _per_atom(equations, weights, atoms) if len(atoms) == m and atoms else None
    if qs is None:
        return Reduction("not reduced", "the equations are not of the cell form "
                         "sum_i w_i q(u_i) (checked on their terms)")
    matches = find_rbar_subsystems(equations, weights, atoms, _qs=qs)
    if not matches:
        return Reduction("not reduced", "no pair of unknowns whose equations contain the r-bar "
                         "system (levels >= 2)")
    index = rbar(m)
    exprs = [equation_expr(e) for e in equations]
    usable = [x for x in matches if x.level >= index.value]
    if not usable:
        for match in matches:
            if match.level <= 2 * m - 1:
                lifted = lifted_witness(exprs, weights, atoms, match, qs)
                if lifted is not None:
                    return Reduction("solution", lifted[1], match, None, index, witness=lifted[0])
        best = matches[0]
        return Reduction("not reduced", f"the r-bar subsystem reaches level {best.level} < "
                         f"r-bar({m}) = {index.value}, and the Gauss-Hermite witness, lifted with "
                         "every other unknown 0, does not solve the system", best, None, index)
    names = _roles(atoms)
    last = None
    for k, match in enumerate(usable, start=1):
        s2_only = _s2_only(match, timeout, rlimit)
        d = _complement(exprs, qs, weights, atoms, names, match, timeout, rlimit)
        if d.status == "no solution" and s2_only.status == "no solution":
            status = "no solution" if index.machine_checked else CONDITIONAL
            return Reduction(status, "", match, d, index, k, s2_only=s2_only)
        if d.status == "solution":
            # the complement's solution, with the two unknowns 0, solves the whole system
            chk = check_witness(exprs, d.witness, weights, tuple(x for a in atoms for x in a))
            if chk.ok:
                return Reduction("solution", f"the complement's witness with {match.s1} = "
                                 f"{match.s2} = 0 solves the system ({chk.method})", match, d,
                                 index, k, d.witness, s2_only)
        last = Reduction("not reduced", "the complement was not shown to have no solution "
                         f"({d.status}; s1 = 0 case: {s2_only.status})", match, d, index, k,
                         s2_only=s2_only)
    return last


def _restricted_in_rbar(exprs, qs, weights, atoms, match: RbarMatch) -> bool:
    """Every equation with the other unknowns 0 is a rational combination of the r-bar levels
    1..match.level (renamed): found on the per-atom polynomials, checked by sympy expand."""
    u, (p, q), (c1, c2) = atoms[0], (match.p, match.q), match.scales
    others = {x: sp.Integer(0) for j, x in enumerate(u) if j not in (p, q)}
    levels = [sp.Poly(_rbar_atom(lev, c1 * u[p], c2 * u[q]), *u, domain=sp.QQ)
              for lev in range(1, match.level + 1)]
    span = _Span(levels, (p, q))
    rb = rbar_system(match.m, match.level)
    ren = {}
    for i in range(match.m):
        ren[rb.weights[i]] = weights[i]
        ren[rb.deltas[i]] = c1 * atoms[i][p]
        ren[rb.free[i]] = c2 * atoms[i][q]
    zero = {a[j]: sp.Integer(0) for a in atoms for j in range(len(u)) if j not in (p, q)}
    for e, qk in zip(exprs, qs, strict=True):
        got = span.express(sp.Poly(qk.as_expr().xreplace(others), *u, domain=sp.QQ))
        if got is None or got[0]:
            return False
        combo = sp.Add(*[_r(c) * rb.decide_equations[lev].xreplace(ren) for lev, c in got[1].items()])
        if sp.expand(e.xreplace(zero) - combo) != 0:
            return False  # pragma: no cover - the linear algebra above would be wrong
    return True


def lifted_witness(exprs, weights, atoms, match: RbarMatch, qs=None) -> tuple[dict, str] | None:
    """The m-point Gauss-Hermite solution of the r-bar levels 1..2m-1 (s1 = the nodes of
    He_m, s2 = -1/2, s3^2 = the weights m!/(m^2 He_{m-1}(node)^2) > 0), mapped back through
    the match's scaling with every other unknown 0, when ``match.level <= 2m - 1``.

    Exact without algebraic-number arithmetic: every equation with the other unknowns 0 is a
    rational combination of those r-bar levels (checked), which vanish at the Gauss-Hermite
    point (``gauss_hermite_certificate``: traces in Q[x]/(He_m)). Else, the values are checked
    by ``check_witness`` (exact; slow beyond a few algebraic values). None if neither holds."""
    from identify.theory.solvability import gauss_hermite_certificate
    from identify.theory.witness import gauss_hermite_rule

    m = match.m
    rule = gauss_hermite_rule(m)
    if match.level > 2 * m - 1 or len(rule) != m:
        return None
    exprs = [equation_expr(e) for e in exprs]
    c1, c2 = match.scales
    values = {x: sp.Integer(0) for a in atoms for x in a}
    for i, (node, w, _, _) in enumerate(rule):
        values[weights[i]] = w
        values[atoms[i][match.p]] = node if c1 == 1 else node / c1
        values[atoms[i][match.q]] = sp.Rational(-1, 2) / c2
    where = (f"the {m}-point Gauss-Hermite witness of the r-bar system (s1 = the nodes of "
             f"He_{m}, s2 = -1/2, s3^2 = its weights), lifted through {match.renaming()} with "
             "every other unknown 0")
    qs = _per_atom(exprs, weights, atoms) if qs is None else qs
    cert = gauss_hermite_certificate(m)
    if qs is not None and cert.holds and _restricted_in_rbar(exprs, qs, weights, atoms, match):
        return values, (f"{where}: every equation with the other unknowns 0 is a rational "
                        f"combination of the r-bar levels 1..{match.level} (sympy expand == 0), "
                        f"which vanish there (exact trace computation in Q[x]/(He_{m}), "
                        f"levels 1..{2 * m - 1})")
    if c1 != 1:
        return None
    chk = check_witness(exprs, values, weights, tuple(x for a in atoms for x in a))
    if not chk.ok:
        return None
    return values, f"{where}: checked exactly on the whole system ({chk.method})"


def _definite(qs: list[sp.Poly], names: list[str], zero: set[int], what: str = "equation"
              ) -> tuple[set[int], list[str]]:
    """Exact elimination: an equation whose per-atom polynomial is c u_j^(2k) reads
    sum_i w_i c u_{j,i}^(2k) = 0 with every w_i > 0, so u_j = 0 in every atom; repeated on
    the equations with the unknowns found so far set to 0. Returns (all zero, the steps)."""
    zero, steps = set(zero), []
    changed = True
    while changed:
        changed = False
        for k, q in enumerate(qs):
            if zero:
                q = sp.Poly(q.as_expr().xreplace({q.gens[j]: 0 for j in zero}), *q.gens,
                            domain=sp.QQ)
            terms = q.terms()
            if len(terms) != 1:
                continue
            mon = terms[0][0]
            used = [j for j, e in enumerate(mon) if e]
            if len(used) == 1 and mon[used[0]] % 2 == 0 and used[0] not in zero:
                zero.add(used[0])
                c = "" if terms[0][1] == 1 else f"({terms[0][1]}) "
                steps.append(f"{what} {k + 1} reads sum_i w_i {c}{names[used[0]]}_i^"
                             f"{mon[used[0]]} = 0, so {names[used[0]]} = 0")
                changed = True
    return zero, steps


def _complement(exprs, qs, weights, atoms, names, match: RbarMatch, timeout, rlimit) -> Decision:
    """The system with s1 = s2 = 0 in every atom: exact elimination of definite equations
    (:func:`_definite`), then ``decide`` on what is left."""
    zero, steps = _definite(qs, names, {match.p, match.q})
    head = (f"{match.s1} = {match.s2} = 0 in every atom" + ("; exact elimination: "
                                                             + "; ".join(steps) if steps else ""))
    rest = tuple(x for a in atoms for j, x in enumerate(a) if j not in zero)
    if not rest:
        return Decision("no solution", None, f"{head}; no unknown left (exact, no solver)", (),
                        0.0)
    sub = {a[j]: sp.Integer(0) for a in atoms for j in zero}
    comp = [c for c in (sp.expand(e.xreplace(sub)) for e in exprs) if c != 0]
    d = decide(comp, weights, rest, timeout=timeout, rlimit=rlimit)
    witness = None if d.witness is None else {**sub, **d.witness}
    return dataclasses.replace(d, certificate=f"{head}; then {d.certificate}", witness=witness)


def _s2_only(match: RbarMatch, timeout: float, rlimit) -> Decision:
    """The r-bar system at the match's level with every s1 = 0 has only s2 = 0 (level 4 is
    sum_i w_i s2_i^2 / 2 = 0): exact elimination, else ``decide``."""
    rb = rbar_system(match.m, match.level)
    zero = {x: sp.Integer(0) for x in rb.deltas}
    eqs = [sp.expand(e.xreplace(zero)) for e in rb.decide_equations]
    qs = _per_atom(eqs, rb.weights, tuple((x,) for x in rb.free))
    if qs is not None:
        gone, steps = _definite(qs, ["s2"], set(), "level")
        if gone == {0}:
            return Decision("no solution", None, "exact elimination: " + "; ".join(steps), (), 0.0)
    return decide([e for e in eqs if e != 0], rb.weights, rb.free, timeout=timeout, rlimit=rlimit)
