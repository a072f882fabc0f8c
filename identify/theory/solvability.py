"""The solvability indices r-bar(m) and r-tilde(m) (theory.md section 6), stated and decided.

- :func:`rbar_system`: the location-variance system of arXiv:2402.03226 eq. (8) /
  arXiv:2505.10860 App. B, exactly as theory.md section 6 states it: unknowns ``s1_i, s2_i,
  s3_i`` (i = 1..m) and, for l = 1..r,
  ``sum_i sum_{n1 + 2 n2 = l} s3_i^2 s1_i^n1 s2_i^n2 / (n1! n2!) = 0``;
  non-trivial means every ``s3_i != 0`` and some ``s1_i != 0``.
- :func:`rtilde_system`: the analogous system of arXiv:2305.03288 for softmax-gated Gaussian
  mixtures of linear experts (see its docstring for what was used).
- :func:`decide_level`, :func:`smallest_level`: decide one level with :func:`~identify.theory.
  decide.decide`, find the smallest level without a non-trivial solution, within budgets.
- :func:`gauss_hermite_certificate`: the exact lower bound r-bar(m) >= 2m (issue 9 section 5).
- :func:`rbar`: r-bar(m) = 2m with its provenance.

Exact reductions used for deciding (each one keeps the solution set's existence):

- ``s3_i`` enters only through ``s3_i^2``; ``w_i = s3_i^2`` is then a weight ``> 0`` (a real
  ``s3_i != 0`` exists iff ``w_i > 0``). A witness gives ``s3_i = sqrt(w_i)``.
- Every equation l is weighted-homogeneous of degree l for the grading s1: 1, s2: 2 (and linear
  in the weights), so ``some s1_i != 0`` is normalised to ``s1_j = 1`` by ``decide``'s grading.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from identify.errors import IdentifyError
from identify.theory.decide import Decision, decide

__all__ = [
    "LevelSystem",
    "rbar_system",
    "rtilde_system",
    "decide_level",
    "smallest_level",
    "SmallestLevel",
    "GaussHermiteCertificate",
    "gauss_hermite_certificate",
    "IndexValue",
    "rbar",
]


@dataclass(frozen=True)
class LevelSystem:
    """A solvability system at level r, ready for :func:`decide`.

    ``equations`` are stated in the paper's unknowns; ``decide_equations`` are the same equations
    with every squared weight unknown replaced by a weight (``s3_i^2 -> w_i``).
    """

    kind: str
    m: int
    r: int
    equations: tuple
    decide_equations: tuple
    weights: tuple
    deltas: tuple
    free: tuple
    grading: dict
    squares: dict  # weight symbol -> the paper's unknown whose square it is
    atoms: tuple  # one tuple of unknowns per atom, same roles, the delta that sorts them first

    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "m": self.m, "r": self.r,
            "equations": [str(e) for e in self.equations],
            "weights": [str(w) for w in self.weights], "deltas": [str(d) for d in self.deltas],
            "free": [str(f) for f in self.free],
        }


def _check_mr(m: int, r: int) -> None:
    if not (isinstance(m, int) and m >= 1 and isinstance(r, int) and r >= 1):
        raise IdentifyError(f"need integers m >= 1 and r >= 1, got m = {m!r}, r = {r!r}")


def rbar_system(m: int, r: int) -> LevelSystem:
    """The r-bar system of theory.md section 6 for a cell of ``m`` atoms, levels l = 1..r."""
    _check_mr(m, r)
    s1 = sp.symbols(f"s1_1:{m + 1}", real=True)
    s2 = sp.symbols(f"s2_1:{m + 1}", real=True)
    s3 = sp.symbols(f"s3_1:{m + 1}", real=True)
    w = sp.symbols(f"w_1:{m + 1}", positive=True)
    eqs, deqs = [], []
    for level in range(1, r + 1):
        terms = [
            s1[i] ** (level - 2 * n2) * s2[i] ** n2 / (sp.factorial(level - 2 * n2) * sp.factorial(n2))
            for i in range(m) for n2 in range(level // 2 + 1)
        ]
        per_atom = [sp.Add(*terms[i * (level // 2 + 1):(i + 1) * (level // 2 + 1)]) for i in range(m)]
        eqs.append(sp.expand(sum(s3[i] ** 2 * per_atom[i] for i in range(m))))
        deqs.append(sp.expand(sum(w[i] * per_atom[i] for i in range(m))))
    grading = {**{x: 1 for x in s1}, **{x: 2 for x in s2}}
    return LevelSystem("rbar", m, r, tuple(eqs), tuple(deqs), w, s1, s2, grading,
                       dict(zip(w, s3, strict=True)), tuple(zip(w, s1, s2, strict=True)))


def rtilde_system(m: int, r: int) -> LevelSystem:
    """The r-tilde system (softmax-gated Gaussian MoE, linear experts; arXiv:2305.03288).

    Unknowns per atom: ``t1 ~ d beta1``, ``t2 ~ d a``, ``t3 ~ d b``, ``t4 ~ d nu``, ``t5^2 ~``
    weight. For every (l1, l2) with l1, l2 >= 0, 1 <= l1 + l2 <= r:
    ``sum_i sum_{alpha in I(l1, l2)} t5_i^2 t1^a1 t2^a2 t3^a3 t4^a4 / (a1! a2! a3! a4!) = 0``,
    ``I(l1, l2) = {alpha : a1 + a2 = l1, a2 + a3 + 2 a4 = l2}``; non-trivial: every t5_i != 0
    and some of t1..t4 non-zero.

    Provenance: the paper's exact statement could not be retrieved here (only its abstract and
    introduction were found); this system is re-derived from the relations it rests on:
    d/d beta1 = x, d/da = x d/db, d/dnu = d2/db2 (the 1/2 absorbed into t4 as in the r-bar
    system), so that the coefficient of x^l1 d^l2/db^l2 f collects exactly I(l1, l2). With
    t1 = t2 = 0 it is the r-bar system (l1 = 0), as theory.md section 6 uses. Grading making
    every equation homogeneous: t1, t3: 1; t2, t4: 2 (the rates' exponents r/1 and r/2).
    """
    _check_mr(m, r)
    t = [sp.symbols(f"t{k}_1:{m + 1}", real=True) for k in range(1, 6)]
    w = sp.symbols(f"w_1:{m + 1}", positive=True)
    eqs, deqs = [], []
    for total in range(1, r + 1):
        for l1 in range(total + 1):
            l2 = total - l1
            per_atom = []
            for i in range(m):
                acc = sp.Integer(0)
                for a2 in range(min(l1, l2) + 1):
                    a1 = l1 - a2
                    for a4 in range((l2 - a2) // 2 + 1):
                        a3 = l2 - a2 - 2 * a4
                        acc += (t[0][i] ** a1 * t[1][i] ** a2 * t[2][i] ** a3 * t[3][i] ** a4
                                / (sp.factorial(a1) * sp.factorial(a2) * sp.factorial(a3) * sp.factorial(a4)))
                per_atom.append(acc)
            eqs.append(sp.expand(sum(t[4][i] ** 2 * per_atom[i] for i in range(m))))
            deqs.append(sp.expand(sum(w[i] * per_atom[i] for i in range(m))))
    deltas = tuple(x for i in range(m) for x in (t[0][i], t[1][i], t[2][i], t[3][i]))
    grading = {**{x: 1 for x in t[0] + t[2]}, **{x: 2 for x in t[1] + t[3]}}
    return LevelSystem("rtilde", m, r, tuple(eqs), tuple(deqs), w, deltas, (), grading,
                       dict(zip(w, t[4], strict=True)),
                       tuple(zip(w, t[0], t[1], t[2], t[3], strict=True)))


def decide_level(system: LevelSystem, *, timeout: float = 10.0, symmetry: bool | None = None,
                 rlimit=None) -> Decision:
    """Has ``system`` a non-trivial real solution? (witness in the paper's unknowns).

    ``symmetry``: sort the interchangeable atoms (an exact reduction, checked by ``decide``);
    default: for r-bar only, where with the grading it leaves one case (largest s1 = 1); for
    r-tilde it multiplies the cases and slowed cvc5 down (measured, docs/theory-solvability.md).
    ``rlimit``: the solvers' deterministic budget (``decide``); ``timeout``: the wall-clock net.
    """
    if symmetry is None:
        symmetry = system.kind == "rbar"
    d = decide(system.decide_equations, system.weights, system.deltas, free=system.free,
               grading=system.grading, atoms=system.atoms if symmetry else None, timeout=timeout,
               rlimit=rlimit)
    if d.witness is None:
        return d
    witness = {system.squares.get(k, k): (sp.sqrt(v) if k in system.squares else v)
               for k, v in d.witness.items()}
    return dataclasses.replace(d, witness=witness)


@dataclass(frozen=True)
class SmallestLevel:
    """The smallest level without a non-trivial solution, or the bounds proved so far."""

    kind: str
    m: int
    value: int | None
    lower: int  # proved: the index is >= lower
    upper: int | None  # proved: the index is <= upper (None: not proved)
    steps: tuple  # (r, status, certificate)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "m": self.m, "value": self.value, "lower": self.lower,
                "upper": self.upper,
                "steps": [{"r": r, "status": s, "certificate": c} for r, s, c in self.steps]}


def smallest_level(kind: str, m: int, *, r_max: int | None = None, timeout: float = 10.0,
                   start: int | None = None, rlimit=None) -> SmallestLevel:
    """Decide levels start, start + 1, ... until one has no non-trivial solution.

    A solution at level r is one at every lower level (the equations are nested), so the first
    level without a solution is the index. By default (``start=None``) the search starts at
    2m: level 2m - 1 has the Gauss-Hermite solution, checked exactly by
    :func:`gauss_hermite_certificate` (for r-tilde embedded with t1 = t2 = 0); ``start=1``
    decides every level by machine.
    """
    build = {"rbar": rbar_system, "rtilde": rtilde_system}.get(kind)
    if build is None:
        raise IdentifyError(f"unknown index {kind!r}", hint="use 'rbar' or 'rtilde'")
    steps = []
    if start is None:
        start = 1
        if m >= 2:
            cert = gauss_hermite_certificate(m)
            if cert.holds:
                embed = "" if kind == "rbar" else ", embedded with t1 = t2 = 0"
                steps.append((2 * m - 1, "solution",
                              f"the {m}-point Gauss-Hermite witness, checked exactly in Q[x]/(He_{m})"
                              + embed))
                start = 2 * m
    r_max = max(start, 2 * m + 2) if r_max is None else r_max
    lower = start
    for r in range(start, r_max + 1):
        d = decide_level(build(m, r), timeout=timeout, rlimit=rlimit)
        steps.append((r, d.status, d.certificate))
        if d.status == "solution":
            lower = r + 1
        elif d.status == "no solution":
            return SmallestLevel(kind, m, r, r, r, tuple(steps))
        else:
            return SmallestLevel(kind, m, None, lower, None, tuple(steps))
    return SmallestLevel(kind, m, None, lower, None, tuple(steps))


# ----------------------------------------------------------------------------- Gauss-Hermite


@dataclass(frozen=True)
class GaussHermiteCertificate:
    """Exact check of the Gauss-Hermite witness at levels 1..2m (issue 9 section 5).

    ``levels[l - 1]`` is P_l at s1 = nodes, s3^2 = weights, s2 = -1/2, computed exactly in
    Q[x]/(He_m) as a trace (a sum over the m real roots); ``holds`` says P_1..P_{2m-1} = 0,
    P_2m = -m!/(2m)!, sum of weights = 1, He_m has m distinct real roots.
    """

    m: int
    levels: tuple
    weight_sum: Fraction
    real_roots: int
    holds: bool

    def to_dict(self) -> dict:
        return {"m": self.m, "levels": [str(v) for v in self.levels], "weight_sum": str(self.weight_sum),
                "real_roots": self.real_roots, "holds": self.holds}


def _hermite_he(m: int) -> list[Fraction]:
    """Coefficients (constant first) of the probabilists' Hermite polynomial He_m."""
    prev, cur = [Fraction(1)], [Fraction(0), Fraction(1)]
    if m == 0:
        return prev
    for k in range(1, m):
        nxt = [Fraction(0)] + cur
        for i, c in enumerate(prev):
            nxt[i] -= k * c
        prev, cur = cur, nxt
    return cur


def gauss_hermite_certificate(m: int) -> GaussHermiteCertificate:
    """Exactly verify the m-point Gauss-Hermite witness of the r-bar system (no floats).

    Nodes x_i: the roots of He_m; weights w_i = m! / (m^2 He_{m-1}(x_i)^2) (sum 1); s2_i = -1/2.
    With these, P_l = sum_i w_i sum_{n1 + 2 n2 = l} x_i^n1 (-1/2)^n2 / (n1! n2!). The sum over
    the roots of He_m of g(x_i), g in Q[x]/(He_m), is the trace of multiplication by g, computed
    from the power sums of the roots (Newton's identities); 1 / He_{m-1}^2 is inverted modulo
    He_m (they are coprime: He_m is squarefree and its roots interlace He_{m-1}'s).
    """
    if not isinstance(m, int) or m < 1:
        raise IdentifyError(f"m must be an integer >= 1, got {m!r}")
    x = sp.Symbol("x")
    he_m = sp.Poly(list(reversed(_hermite_he(m))), x, domain=sp.QQ)
    he_m1 = sp.Poly(list(reversed(_hermite_he(m - 1))), x, domain=sp.QQ)
    real_roots = sp.Poly(he_m, x).count_roots() if sp.gcd(he_m, he_m.diff(x)).degree() == 0 else 0
    inv = sp.invert(he_m1**2, he_m)  # raises if not coprime
    weight = (sp.Rational(math.factorial(m), m * m) * inv).rem(he_m)
    traces = _power_sums(he_m, m)  # g mod He_m has degree < m

    def trace(g: sp.Poly) -> sp.Rational:
        g = g.rem(he_m)
        return sum((c * traces[k] for (k,), c in g.terms()), sp.Integer(0))

    levels = []
    for level in range(1, 2 * m + 1):
        f = sum((x ** (level - 2 * n2) * sp.Rational(-1, 2) ** n2
                 / (sp.factorial(level - 2 * n2) * sp.factorial(n2)) for n2 in range(level // 2 + 1)),
                sp.Integer(0))
        levels.append(sp.Rational(trace(weight * sp.Poly(f, x, domain=sp.QQ))))
    wsum = trace(weight)
    expected_last = sp.Rational(-math.factorial(m), math.factorial(2 * m))
    holds = (all(v == 0 for v in levels[:-1]) and levels[-1] == expected_last and wsum == 1
             and real_roots == m)
    return GaussHermiteCertificate(m, tuple(Fraction(int(v.p), int(v.q)) for v in levels),
                                   Fraction(int(wsum.p), int(wsum.q)), int(real_roots), bool(holds))


def _power_sums(poly: sp.Poly, n: int) -> list:
    """p_k = sum of the k-th powers of the roots of the monic ``poly``, k = 0..n (Newton)."""
    coeffs = [c / poly.LC() for c in poly.all_coeffs()]  # 1, e1', e2', ... with signs: x^d + a1 x^(d-1)
    d = poly.degree()
    a = coeffs[1:] + [0] * (n + 1)
    p = [sp.Integer(d)]
    for k in range(1, n + 1):
        s = -k * a[k - 1] if k <= d else sp.Integer(0)
        for i in range(1, k):
            if i <= d:
                s -= a[i - 1] * p[k - i]
        p.append(sp.Rational(s))
    return p


# ----------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class IndexValue:
    """r-bar(m) (or r-tilde(m)) with where each half of the claim comes from."""

    kind: str
    m: int
    value: int
    lower_bound: str
    upper_bound: str
    machine_checked: bool
    provenance: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "m": self.m, "value": self.value, "lower_bound": self.lower_bound,
                "upper_bound": self.upper_bound, "machine_checked": self.machine_checked,
                "provenance": self.provenance}


# m -> index, where level 2m was decided "no solution" by z3 and cvc5 (pinned by
# tests/theory/test_solvability.py: test_rbar_2_no_solution_at_level_4_both_solvers, test_rtilde_2_is_4)
_MACHINE_DECIDED = {"rbar": {2: 4}, "rtilde": {2: 4}}


def rbar(m: int, *, kind: str = "rbar", decide_upper: float | None = None) -> IndexValue:
    """r-bar(m) = 2m (m >= 2), with its provenance (theory.md section 6, issue 9 section 5).

    The lower bound (a non-trivial solution at level 2m - 1) is checked here, exactly, by
    :func:`gauss_hermite_certificate`. The upper bound (none at level 2m) is the [D] argument of
    theory.md citing Kalai-Moitra-Valiant 2010, Prop. 7; it is machine-checked only where
    ``_MACHINE_DECIDED`` says so, or when ``decide_upper`` (seconds per solver) is given and
    :func:`decide_level` then proves level 2m has no solution (its certificate is quoted). For
    r-tilde the value is the same: at every level r >= 4 the r-tilde system contains the r-bar
    system in (t3, t4) and its complement (t3 = t4 = 0) has no solution, both checked by
    :mod:`identify.theory.reduction` (tested for m = 2, 3, 4 at r = 2m); the provenance says so.
    """
    if not isinstance(m, int) or m < 1:
        raise IdentifyError(f"m must be an integer >= 1, got {m!r}")
    if kind not in ("rbar", "rtilde"):
        raise IdentifyError(f"unknown index {kind!r}", hint="use 'rbar' or 'rtilde'")
    if m == 1:
        return IndexValue(kind, 1, 1, "trivial", "one atom: l = 1 forces s1 = 0", True,
                          "m = 1: the level-1 equation s3^2 s1 = 0 forces s1 = 0")
    cert = gauss_hermite_certificate(m)
    if not cert.holds:  # pragma: no cover - would be a bug in the exact arithmetic
        raise IdentifyError(f"the Gauss-Hermite witness failed the exact check for m = {m}")
    checked = sorted(k for k, v in _MACHINE_DECIDED.get(kind, {}).items() if v == 2 * k)
    machine = m in checked
    lower = (f"lower bound checked exactly: the {m}-point Gauss-Hermite rule solves levels 1..{2 * m - 1}, "
             f"P_{2 * m} = {cert.levels[-1]}")
    upper = ("upper bound by the [D] argument (theory.md section 6) citing Kalai-Moitra-Valiant 2010 "
             "Prop. 7 (at most 2(n-1) zeros of a combination of n Gaussian densities)")
    mc = ("upper bound machine-checked for m = " + ", ".join(map(str, checked)) if checked
          else "upper bound not machine-checked")
    if decide_upper is not None and not machine:
        d = decide_level((rbar_system if kind == "rbar" else rtilde_system)(m, 2 * m), timeout=decide_upper)
        machine = d.status == "no solution"
        mc += f"; level {2 * m} by machine now: {d.status} ({d.certificate})"
    prov = f"{lower}; {upper}; {mc}"
    if kind == "rtilde":
        prov += ("; r-tilde = r-bar: the r-tilde system at level r >= 4 contains the r-bar system "
                 "in (t3, t4) and its complement (t3 = t4 = 0) has only the trivial solution "
                 "(identify.theory.reduction, machine-checked for m = 2, 3, 4 at r = 2m)")
    return IndexValue(kind, m, 2 * m, lower, upper, machine, prov)
