"""Exact decision of a real polynomial system with positive weights and a non-trivial perturbation.

The question (theory.md section 6, issue 9 section 2): do the equations ``P_k(w, delta, u) = 0``
have a real solution with every weight ``w_i > 0`` and some ``delta_j != 0`` (``u`` are further
unconstrained unknowns)?

How it is decided:

- **existence**: a witness is accepted only after exact substitution into every equation (and
  the sign conditions): rationals with exact rational arithmetic, algebraic numbers (z3's
  ``root-obj``, cvc5's algebraic values) through a resultant and a root-separation bound;
- **non-existence**: z3's nlsat (a complete decision procedure for real arithmetic) answers
  ``unsat``, cross-checked by cvc5 (cylindrical algebraic coverings); the certificate names every
  solver's answer; one solver's ``unsat`` with the other one timing out is still reported, with
  that provenance; ``sat`` against ``unsat`` without an exact witness is ``"unknown"``.

Budgets are deterministic: every call gets ``rlimit`` resource units of the solver's own count
(z3's and cvc5's ``rlimit``), so the answer and the certificate (which holds no timings) are
the same on every machine and at every load. Every solver runs in its own child process; a
generous wall-clock ``timeout`` kills it as a safety net only (cvc5 checks its resource count
between the steps of a covering, not inside one: measured), and an answer cut by it says so
(``"wall-clock safety stop"``), so nothing hangs, nothing is left behind and no load-dependent
stop passes for a budget.

Exact normalisations (each one documented in the certificate):

- if every equation is homogeneous in the weights, the first weight is fixed to 1 (scaling all
  weights by a positive number keeps the solution set and the signs);
- if a ``grading`` is given (a positive integer per delta, any integer >= 0 for other unknowns)
  and every equation is weighted-homogeneous for it, ``some delta != 0`` becomes a case split:
  ``delta_1 = ... = delta_{j-1} = 0, delta_j = 1`` (or ``-1`` when its grade is even), reached
  by ``x -> lambda^grade * x`` with a real ``lambda != 0``, which maps solutions to solutions.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp

from identify.errors import IdentifyError

__all__ = ["Decision", "decide"]


@dataclass(frozen=True)
class Decision:
    """The answer to one existence question, with how it was obtained.

    ``status`` is ``"solution"`` (``witness`` checked exactly), ``"no solution"`` (a decision
    procedure's ``unsat``; ``certificate`` says which solvers agreed) or ``"unknown"``.
    """

    status: str
    witness: dict | None
    certificate: str
    solvers: tuple[str, ...]
    seconds: float
    answers: tuple[tuple[str, str, float], ...] = field(default=())
    resources: tuple[int | None, ...] = field(default=())  # per answer: resource units spent
    rlimit: tuple[tuple[str, int], ...] = ()  # per solver: the deterministic budget per call (0: none)

    def to_dict(self) -> dict:
        spent = self.resources or (None,) * len(self.answers)
        return {
            "status": self.status,
            "witness": None if self.witness is None else {str(k): str(v) for k, v in self.witness.items()},
            "certificate": self.certificate,
            "solvers": list(self.solvers),
            "seconds": self.seconds,
            "rlimit": dict(self.rlimit),
            "answers": [{"solver": s, "answer": a, "seconds": t, "resources": r}
                        for (s, a, t), r in zip(self.answers, spent, strict=True)],
        }


def _as_polys(equations, gens) -> list[sp.Poly]:
    polys = []
    gen_set = set(gens)
    for eq in equations:
        if isinstance(eq, sp.Poly) and eq.gens == tuple(gens):
            p = eq.set_domain(sp.QQ)
            if not p.is_zero:
                polys.append(p)
            continue
        if isinstance(eq, sp.Basic):
            expr = eq
        elif isinstance(eq, int) and not isinstance(eq, bool):
            expr = sp.Integer(eq)
        else:  # text above all: never parsed here (no sympify), and no inexact floats
            raise IdentifyError(f"an equation must be a sympy expression, Poly or integer, "
                                f"not {type(eq).__name__}", where="equations")
        if isinstance(expr, sp.Equality):
            expr = expr.lhs - expr.rhs
        extra = expr.free_symbols - gen_set
        if extra:
            names = ", ".join(sorted(map(str, extra)))
            raise IdentifyError(
                f"equation has unknowns that are neither weights, deltas nor free: {names}",
                where="equations",
            )
        try:
            p = sp.Poly(expr, *gens, domain=sp.QQ)
        except (sp.PolynomialError, sp.CoercionFailed) as exc:
            raise IdentifyError(f"not a polynomial with rational coefficients: {expr}") from exc
        if not p.is_zero:
            polys.append(p)
    return polys


def _integer_poly(p: sp.Poly) -> sp.Poly:
    """The primitive integer multiple of ``p`` (denominators cleared, same zero set)."""
    _, q = p.clear_denoms(convert=True)
    return q.primitive()[1]


def _homogeneous_in(p: sp.Poly, idx: Sequence[int], grade: Sequence[int]) -> bool:
    degrees = {sum(mon[i] * g for i, g in zip(idx, grade, strict=True)) for mon in p.monoms()}
    return len(degrees) <= 1


def _check_grading(grading, polys, gens, deltas) -> list[int]:
    grade = [int(grading.get(g, 0)) for g in gens]
    index = {g: i for i, g in enumerate(gens)}
    if any(grade[index[d]] <= 0 for d in deltas):
        raise IdentifyError("the grading must give every delta a positive integer degree", where="grading")
    if any(x < 0 for x in grade):
        raise IdentifyError("grading degrees must be >= 0", where="grading")
    for p in polys:
        if not _homogeneous_in(p, range(len(gens)), grade):
            raise IdentifyError(f"equation is not weighted-homogeneous for the grading: {p.as_expr()}",
                                where="grading")
    return grade


def _check_atoms(atoms, polys, gens, weights, deltas) -> list:
    """Verify that the atoms are interchangeable; return the order coordinate of each atom."""
    atoms = [tuple(a) for a in atoms]
    if len({len(a) for a in atoms}) != 1 or set().union(*map(set, atoms)) - set(gens):
        raise IdentifyError("atoms must be tuples of the same length made of the system's unknowns",
                            where="atoms")
    if len({x for a in atoms for x in a}) != sum(map(len, atoms)):
        raise IdentifyError("an unknown appears in two atoms (or twice in one)", where="atoms")

    def role(x):
        return "weight" if x in weights else "delta" if x in deltas else "free"

    if any(len({role(a[k]) for a in atoms}) != 1 for k in range(len(atoms[0]))):
        raise IdentifyError("each position of the atoms' tuples must hold unknowns of one role "
                            "(weights, deltas or free)", where="atoms")
    pos = next((k for k, x in enumerate(atoms[0]) if x in deltas), None)
    if pos is None or any(a[pos] not in deltas for a in atoms):
        raise IdentifyError("every atom needs a delta at the same position", where="atoms")
    for i in range(len(atoms) - 1):
        swap = dict(zip(atoms[i] + atoms[i + 1], atoms[i + 1] + atoms[i], strict=True))
        for p in polys:
            if sp.expand(p.as_expr().xreplace(swap) - p.as_expr()) != 0:
                raise IdentifyError(f"atoms {i + 1} and {i + 2} are not interchangeable in {p.as_expr()}",
                                    where="atoms")
    return [a[pos] for a in atoms]


def _cases(deltas, grade, gens, order):
    """The normalised cases of ``some delta != 0``: (assignments, description) pairs.

    ``grade``: per-generator degrees or None; ``order``: the sorted coordinates or None.
    """
    if grade is None:
        return [({}, None)]
    index = {g: i for i, g in enumerate(gens)}
    if order is not None and set(order) == set(deltas) and grade[index[order[0]]] % 2:
        # flip the sign (lambda = -1) so that the largest coordinate is > 0, sort, scale it to 1
        return [({order[-1]: sp.Integer(1)}, f"{order[-1]} = 1 (the largest)")]
    cases = []
    for j, d in enumerate(deltas):
        zero = {e: sp.Integer(0) for e in deltas[:j]}
        # with sorted atoms only lambda > 0 may be used: both signs stay
        signs = (1,) if grade[index[d]] % 2 and order is None else (1, -1)
        for sign in signs:
            label = f"{d} = {sign}" + (f", {', '.join(map(str, zero))} = 0" if zero else "")
            cases.append(({**zero, d: sp.Integer(sign)}, label))
    return cases


def decide(
    equations,
    weights: Sequence[sp.Symbol],
    deltas: Sequence[sp.Symbol],
    *,
    timeout: float = 10.0,
    rlimit: int | Mapping[str, int] | None = None,
    free: Sequence[sp.Symbol] = (),
    grading: Mapping[sp.Symbol, int] | None = None,
    atoms: Sequence[Sequence[sp.Symbol]] | None = None,
    solvers: Sequence[str] = ("z3", "cvc5"),
    cross_check: bool = True,
) -> Decision:
    """Real solution of all ``equations == 0`` with every weight > 0 and some delta != 0?

    Parameters
    ----------
    equations:
        sympy polynomials (rational coefficients) in ``weights``, ``deltas`` and ``free``
        (expressions, or ``sympy.Poly`` in exactly those generators in that order).
    weights, deltas, free:
        the unknowns: weights must be > 0, some delta must be non-zero, free ones are unconstrained.
    timeout:
        wall-clock safety net per solver call (its child process is killed when spent); an
        answer cut by it is ``"wall-clock safety stop"`` in the certificate, never silent.
    rlimit:
        the deterministic budget per solver call: resource units of the solver's own count
        (z3's ``rlimit``, cvc5's ``rlimit``), the same on every machine and load; a mapping
        solver -> units, or one integer for every solver, 0 for none (then only ``timeout``
        bounds a call); default ``DEFAULT_RLIMIT``.
    grading:
        optional degrees making every equation weighted-homogeneous (checked; module docstring).
    atoms:
        optional interchangeable atoms, one tuple of unknowns per atom in the same roles (e.g.
        ``(w_i, s1_i, s2_i)``); checked exactly (every equation is invariant under swapping two
        neighbours); the atoms are then sorted by their first delta.
    solvers:
        the decision procedures, in order (``"z3"``, ``"cvc5"``).
    cross_check:
        when the first solver says ``unsat``, ask the others too (default).
    """
    start = time.perf_counter()
    weights, deltas, free = tuple(weights), tuple(deltas), tuple(free)
    gens = weights + deltas + free
    if len(set(gens)) != len(gens):
        raise IdentifyError("weights, deltas and free unknowns must be distinct symbols")
    if not deltas:
        raise IdentifyError("at least one delta is needed (some delta must be non-zero)", where="deltas")
    if not solvers or any(name not in SOLVERS for name in solvers):
        raise IdentifyError(f"unknown solver in {list(solvers)}", hint=f"use some of {', '.join(SOLVERS)}")
    if not timeout > 0:
        raise IdentifyError(f"timeout must be > 0 seconds, got {timeout!r}", where="timeout")
    limits = _limits(rlimit, solvers)
    polys = _as_polys(equations, gens)
    ints = [_integer_poly(p) for p in polys]
    notes = []
    fixed: dict = {}
    grade = None if grading is None else _check_grading(grading, ints, gens, deltas)
    order = None if atoms is None else _check_atoms(atoms, ints, gens, weights, deltas)
    if weights and all(_homogeneous_in(p, range(len(weights)), [1] * len(weights)) for p in ints):
        fixed[weights[0]] = sp.Integer(1)
        notes.append(f"homogeneous in the weights: {weights[0]} = 1")
    if order is not None:
        notes.append("atoms interchangeable (checked): " + " <= ".join(map(str, order)))
    cases = _cases(deltas, grade, gens, order)
    if grade is not None:
        notes.append(f"graded: 'some delta != 0' normalised into {len(cases)} case(s)")

    answers: list[tuple[str, str, float]] = []
    resources: list[int | None] = []
    verdicts: list[dict[str, str]] = [{} for _ in cases]
    problems = [
        _Problem(equations=ints, positive=[w for w in weights if w not in fixed],
                 nonzero=[] if grade is not None else list(deltas), fixed={**fixed, **assign}, gens=gens,
                 order=[] if order is None else list(zip(order, order[1:], strict=False)))
        for assign, _ in cases
    ]
    used: list[str] = []
    # with cross_check, the other solvers run on a case while the first one does (their
    # answers are collected in the same order as one after the other: the same Decision)
    pending: dict[tuple[str, int], tuple] = {}
    try:
        for k, name in enumerate(solvers):
            if k > 0 and not cross_check and all(v for v in verdicts):
                break
            used.append(name)
            for c, ((_, label), problem) in enumerate(zip(cases, problems, strict=True)):
                if k > 0 and not cross_check and verdicts[c]:
                    continue
                if k == 0 and cross_check:
                    for other in solvers[1:]:
                        pending[(other, c)] = _start(other, problem, timeout, limits[other])
                handle = pending.pop((name, c), None)
                result = (_collect(handle) if handle is not None
                          else _run(name, problem, timeout, limits[name]))
                tag = name if label is None else f"{name} [{label}]"
                answers.append((tag, result.answer, result.seconds))
                resources.append(result.resources)
                verdicts[c][name] = result.answer
                if result.answer == "sat" and result.model is not None:
                    witness = {**problem.fixed, **{g: v for g, v in result.model.items() if g in gens}}
                    for g in gens:
                        witness.setdefault(g, sp.Integer(0))
                    chk = check_witness(polys, witness, weights, deltas)
                    if chk.ok:
                        earlier = [f"before: {_summary(answers[:-1])}"] if answers[:-1] else []
                        head = f"{tag}: sat; witness checked exactly ({chk.method})"
                        cert = "; ".join([head, *earlier, *_budget_note(answers, limits, timeout), *notes])
                        return _finish("solution", witness, cert, used, start, answers, resources, limits)
                    verdicts[c][name] = "sat (witness failed the exact check)"
                    answers[-1] = (tag, f"sat, witness rejected: {chk.reason}", result.seconds)
    finally:
        for handle in pending.values():
            _kill(handle[0])
    return _conclude(verdicts, notes, used, start, answers, resources, limits, timeout)


def _summary(answers) -> str:
    """Each solver's answers, without timings (the certificate must not depend on the load)."""
    by: dict[str, list] = {}
    for tag, answer, _ in answers:
        by.setdefault(tag.split(" ", 1)[0], []).append(answer)
    parts = []
    for name, items in by.items():
        counts: dict[str, int] = {}
        for answer in items:
            counts[answer] = counts.get(answer, 0) + 1
        said = ", ".join(a if len(items) == 1 else f"{a} in {n}/{len(items)} cases"
                         for a, n in counts.items())
        parts.append(f"{name}: {said}")
    return "; ".join(parts)


def _limits(rlimit, solvers) -> dict[str, int]:
    if rlimit is None:
        rlimit = DEFAULT_RLIMIT
    if isinstance(rlimit, Mapping):
        limits = {name: rlimit.get(name, DEFAULT_RLIMIT[name]) for name in solvers}
    else:
        limits = dict.fromkeys(solvers, rlimit)
    for v in limits.values():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise IdentifyError(f"rlimit must be an integer >= 0 (resource units), got {v!r}",
                                where="rlimit")
    return limits


def _budget_note(answers, limits: dict, timeout: float) -> list[str]:
    hit = sorted({tag.split(" ", 1)[0] for tag, a, _ in answers if a == RESOURCE_LIMIT})
    said = {a for _, a, _ in answers}
    notes = []
    if hit:
        units = ", ".join(f"{name} {limits[name]}" for name in hit)
        notes.append(f"deterministic budget spent: resource units per call {units}")
    if SAFETY_STOP in said:
        notes.append(f"a call was cut by the wall-clock safety net ({timeout:g} s): that answer "
                     "depends on the machine's load, not on the deterministic budget")
    return notes


def _conclude(per_case, notes, used, start, answers, resources, limits, timeout) -> Decision:
    status = "no solution"
    reasons = []
    for verdicts in per_case:
        said = set(verdicts.values())
        if "unsat" not in said:
            status = "unknown"
            reasons.append("no solver decided a case")
        elif any(v.startswith("sat") for v in said):
            status = "unknown"
            reasons.append("solvers disagree (sat without an exact witness vs unsat)")
    summary = _summary(answers)
    budget = _budget_note(answers, limits, timeout)
    if status == "no solution":
        agreeing = sorted({s for v in per_case for s, a in v.items() if a == "unsat"})
        both = all(sum(a == "unsat" for a in v.values()) >= 2 for v in per_case)
        head = "unsat from " + " and ".join(agreeing) + (" (cross-checked)" if both else
                                                        " (not cross-checked in every case)")
        return _finish(status, None, "; ".join([head, summary, *budget, *notes]), used, start, answers,
                       resources, limits)
    return _finish(status, None, "; ".join([*dict.fromkeys(reasons), summary, *budget, *notes]), used,
                   start, answers, resources, limits)


def _finish(status, witness, certificate, used, start, answers, resources, limits) -> Decision:
    return Decision(status=status, witness=witness, certificate=certificate, solvers=tuple(used),
                    seconds=time.perf_counter() - start, answers=tuple(answers),
                    resources=tuple(resources), rlimit=tuple(sorted(limits.items())))


# ----------------------------------------------------------------------------- solvers

SOLVERS = ("z3", "cvc5")
# The deterministic budget per call, in each solver's own resource units (calibrated: the
# largest need among the decisions the tests pin is 123039 for z3 (the Gaussian MoE's two-atom
# level-4 systems) and 27229 for cvc5; these give 8x and 3.7x that; on the undecided
# three-atom level-6 systems they cost about 0.7 s (z3) and 1.3 s (cvc5) at a load near 2;
# docs/theory-solvability.md). cvc5 checks its limit between steps of its algebraic coverings,
# not inside one: a hard system can run past it, then the wall-clock net stops it.
DEFAULT_RLIMIT = {"z3": 1_000_000, "cvc5": 100_000}


@dataclass(frozen=True)
class _Problem:
    """Integer polynomials == 0, ``positive`` > 0, some of ``nonzero`` != 0, ``fixed`` substituted."""

    equations: list
    positive: list
    nonzero: list
    fixed: dict
    gens: tuple
    order: list = field(default_factory=list)  # pairs (a, b): a <= b

    def smtlib(self) -> tuple[str, dict[str, sp.Symbol]]:
        names = {f"v{i}": g for i, g in enumerate(self.gens) if g not in self.fixed}
        back = {g: n for n, g in names.items()}
        lines = ["(set-logic QF_NRA)"] + [f"(declare-fun {n} () Real)" for n in names]
        for p in self.equations:
            terms = _substituted(p, self.gens, self.fixed)
            if terms:
                lines.append(f"(assert (= {_smt_terms(terms, self.gens, back)} 0))")
        lines += [f"(assert (> {back[w]} 0))" for w in self.positive]
        lines += [f"(assert (<= {_smt_side(a, back, self.fixed)} {_smt_side(b, back, self.fixed)}))"
                  for a, b in self.order]
        if self.nonzero:
            some = " ".join(f"(not (= {back[d]} 0))" for d in self.nonzero)
            lines.append(f"(assert (or {some} false))")
        return "\n".join(lines) + "\n", names


def _substituted(p: sp.Poly, gens: tuple, fixed: dict) -> list[tuple[tuple, int]]:
    """The terms of ``p`` (in ``gens``) with the ``fixed`` values substituted, as the primitive
    integer polynomial (denominators cleared, content divided out), in sympy's lex order:
    exact Fraction arithmetic on the terms, the same polynomial as Poly(p.subs(fixed))."""
    from fractions import Fraction
    from math import gcd, lcm

    index = [k for k, g in enumerate(gens) if g in fixed]
    values = {k: Fraction(int(sp.Rational(fixed[gens[k]]).p), int(sp.Rational(fixed[gens[k]]).q))
              for k in index}
    acc: dict[tuple, Fraction] = {}
    for mon, c in p.terms():
        coef = Fraction(int(sp.Rational(c).p), int(sp.Rational(c).q))
        if index:
            mon = list(mon)
            for k in index:
                if mon[k]:
                    coef *= values[k] ** mon[k]
                    mon[k] = 0
            mon = tuple(mon)
        if coef:
            acc[mon] = acc.get(mon, Fraction(0)) + coef
    items = sorted(((m, c) for m, c in acc.items() if c), reverse=True)
    if not items:
        return []
    den = lcm(*(c.denominator for _, c in items))
    ints = [(m, int(c * den)) for m, c in items]
    g = 0
    for _, c in ints:
        g = gcd(g, c)
    return [(m, c // g) for m, c in ints]


def _smt_terms(terms, gens, names: dict) -> str:
    out = []
    for mon, c in terms:
        factors = [names[g] for g, k in zip(gens, mon, strict=True) for _ in range(k)]
        out.append(f"(* {_smt_num(c)} {' '.join(factors)})" if factors else _smt_num(c))
    return out[0] if len(out) == 1 else "(+ " + " ".join(out) + ")"


def _smt_side(x, back, fixed) -> str:
    if x in fixed:
        v = sp.Rational(fixed[x])
        return _smt_num(int(v)) if v.q == 1 else f"(/ {_smt_num(int(v.p))} {v.q})"
    return back[x]


def _smt_num(c: int) -> str:
    return str(c) if c >= 0 else f"(- {-c})"


def _smt_poly(p: sp.Poly, names: dict) -> str:
    terms = []
    for mon, c in p.terms():
        factors = [names[g] for g, k in zip(p.gens, mon, strict=True) for _ in range(k)]
        terms.append(f"(* {_smt_num(int(c))} {' '.join(factors)})" if factors else _smt_num(int(c)))
    if not terms:
        return "0"
    return terms[0] if len(terms) == 1 else "(+ " + " ".join(terms) + ")"


@dataclass(frozen=True)
class _Result:
    answer: str  # "sat" | "unsat" | RESOURCE_LIMIT | "unknown" | SAFETY_STOP | "error: ..."
    model: dict | None
    seconds: float
    resources: int | None = None  # the solver's own count of resource units spent


RESOURCE_LIMIT = "resource limit"  # the deterministic budget (rlimit) was spent
SAFETY_STOP = "wall-clock safety stop"  # killed by the wall-clock net: depends on the machine's load

_CVC5_CHILD = r"""
import json, sys
import cvc5
tm = cvc5.TermManager()
s = cvc5.Solver(tm)
s.setOption("produce-models", "true")
if int(sys.argv[1]) > 0:
    s.setOption("rlimit", sys.argv[1])
sm = cvc5.SymbolManager(tm)
p = cvc5.InputParser(s, sm)
p.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, sys.stdin.read(), "problem")
while True:
    cmd = p.nextCommand()
    if cmd.isNull():
        break
    cmd.invoke(s, sm)
r = s.checkSat()
ans = "sat" if r.isSat() else "unsat" if r.isUnsat() else "unknown"
why = "" if ans != "unknown" else str(r.getUnknownExplanation())
model = {}
if r.isSat():
    for t in sm.getDeclaredTerms():
        v = s.getValue(t)
        if v.isRealValue():
            model[str(t)] = ["q", str(v.getRealValue())]
        elif v.isRealAlgebraicNumber():
            x = tm.mkVar(tm.getRealSort(), "x")
            model[str(t)] = ["alg", str(v.getRealAlgebraicNumberDefiningPolynomial(x)),
                             str(v.getRealAlgebraicNumberLowerBound().getRealValue()),
                             str(v.getRealAlgebraicNumberUpperBound().getRealValue())]
try:
    used = s.getStatistics()["resource::resourceUnitsUsed"]["value"]
except Exception:
    used = None
print(json.dumps({"answer": ans, "why": why, "model": model, "resources": used}))
"""


_Z3_CHILD = r"""
import sys
import z3
s = z3.SolverFor("QF_NRA")
if int(sys.argv[1]) > 0:
    s.set("rlimit", int(sys.argv[1]))
s.from_string(sys.stdin.read())
r = s.check()
print(r)
print('(:reason-unknown "%s")' % (s.reason_unknown() if r == z3.unknown else ""))
st = s.statistics()
print("(:rlimit %d)" % next((int(st.get_key_value(k)) for k in st.keys() if k == "rlimit count"), -1))
if r == z3.sat:
    print(s.model().sexpr())
"""


def _command(name: str, timeout: float, rlimit: int = 0) -> list[str]:
    """The child process's command line: ``rlimit`` resource units (0: none), ``timeout`` the
    wall-clock safety net (z3's ``-T``; the parent kills the child as well)."""
    import os
    import shutil
    import sys

    if name == "cvc5":
        return [sys.executable, "-c", _CVC5_CHILD, str(int(rlimit))]
    exe = shutil.which("z3", path=os.path.dirname(sys.executable)) or shutil.which("z3")
    if exe is None:  # the z3-solver wheel installs the executable; else its Python API
        return [sys.executable, "-c", _Z3_CHILD, str(int(rlimit))]
    return [exe, "-in", "-smt2", f"-T:{max(1, int(timeout) + 1)}"]


def _run(name: str, problem: _Problem, timeout: float, rlimit: int = 0) -> _Result:
    """One solver call in a child process: ``rlimit`` resource units of the solver's own,
    deterministic count (0: unlimited), killed when ``timeout`` seconds of wall clock are
    spent (a safety net, answered as ``SAFETY_STOP``)."""
    return _collect(_start(name, problem, timeout, rlimit))


def _start(name: str, problem: _Problem, timeout: float, rlimit: int = 0) -> tuple:
    """Start one solver call; its input is written at once (the children read it whole)."""
    import subprocess

    text, names = problem.smtlib()
    cmd = _command(name, timeout, rlimit)
    if name == "z3" and "-in" in cmd:
        head = f"(set-option :rlimit {int(rlimit)})\n" if rlimit > 0 else ""
        text = head + text + "(check-sat)\n(get-info :reason-unknown)\n(get-info :rlimit)\n(get-model)\n"
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        proc.stdin.write(text)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the child failed at once: its output says why
    proc.stdin = None  # written and closed: communicate() must not touch it again
    return proc, t0, names, name, timeout


def _kill(proc) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def _collect(handle: tuple) -> _Result:
    """Wait for a started call (until its wall-clock safety net), parse its answer."""
    import json
    import subprocess

    proc, t0, names, name, timeout = handle
    try:
        out, err = proc.communicate(timeout=max(0.0, timeout + 0.5 - (time.perf_counter() - t0)))
    except subprocess.TimeoutExpired:
        return _Result(SAFETY_STOP, None, time.perf_counter() - t0)
    finally:
        if proc.poll() is None:
            _kill(proc)
    secs = time.perf_counter() - t0
    if name == "z3":
        return _z3_result(out, err, names, secs, timeout)
    try:
        data = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return _Result(f"error: {(out + err).strip()[-200:]}", None, secs)
    answer = data["answer"]
    used = data.get("resources")
    if answer == "unknown" and "RESOURCEOUT" in data.get("why", ""):
        answer = RESOURCE_LIMIT
    model = None
    if answer == "sat":
        try:
            model = {names[k]: _cvc5_value(v) for k, v in data["model"].items() if k in names}
        except (ValueError, sp.SympifyError):
            model = None
    return _Result(answer, model, secs, None if used is None else int(used))


def _z3_result(out: str, err: str, names: dict, secs: float, timeout: float) -> _Result:
    lines = out.strip().splitlines()
    head = lines[0].strip() if lines else ""
    if head not in ("sat", "unsat", "unknown"):
        if "timeout" in out + err or secs >= timeout:
            return _Result(SAFETY_STOP, None, secs)
        return _Result(f"error: {(out + err).strip()[:200]}", None, secs)
    rest = lines[1:]
    why = used = None
    for line in rest[:2]:
        if line.startswith("(:reason-unknown"):
            why = line
        elif line.startswith("(:rlimit"):
            try:
                used = int(line.strip("()").split()[1])
            except (IndexError, ValueError):
                used = None
    model_text = "\n".join(rest[2:])
    if head == "unknown":
        text = (why or "") + out + err
        if "resource limit" in text or "rlimit" in text:
            head = RESOURCE_LIMIT
        elif "timeout" in text or "canceled" in text:
            head = SAFETY_STOP
    model = _parse_z3_model(model_text, names) if head == "sat" else None
    return _Result(head, model, secs, used if used is None or used >= 0 else None)


def _cvc5_value(v):
    if v[0] == "q":
        return sp.Rational(v[1])
    x = sp.Symbol("x")
    poly = sp.Poly(_sexpr_to_sympy(_parse_sexpr(v[1]), {"x": x}), x)
    lo, hi = sp.Rational(v[2]), sp.Rational(v[3])
    return _root_in(poly, lo, hi)


def _root_in(poly: sp.Poly, lo, hi):
    """The unique real root of ``poly`` in [lo, hi], exactly (error if not unique): Sturm counts."""
    q = sp.Poly(poly).sqf_part()
    if q.count_roots(lo, hi) != 1:
        raise ValueError("the interval does not isolate one root")
    for end in (lo, hi):
        if q.eval(end) == 0:  # sympy's Poly.eval: the polynomial's value at a rational
            return sp.Rational(end)
    return sp.CRootOf(q, q.count_roots(None, lo))


def _parse_sexpr(text: str):
    tokens = text.replace("(", " ( ").replace(")", " ) ").split()
    stack: list[list] = [[]]
    for tok in tokens:
        if tok == "(":
            stack.append([])
        elif tok == ")":
            last = stack.pop()
            stack[-1].append(last)
        else:
            stack[-1].append(tok)
    return stack[0][0] if len(stack[0]) == 1 else stack[0]


def _sexpr_to_sympy(e, env):
    if isinstance(e, str):
        if e in env:
            return env[e]
        return sp.Rational(e)
    op, args = e[0], [_sexpr_to_sympy(a, env) for a in e[1:]]
    if op == "+":
        return sp.Add(*args)
    if op == "-":
        return -args[0] if len(args) == 1 else args[0] - sp.Add(*args[1:])
    if op == "*":
        return sp.Mul(*args)
    if op == "/":
        return args[0] / args[1]
    if op == "^":
        return args[0] ** args[1]
    raise ValueError(f"unexpected operator {op}")


def _z3_value(e):
    if isinstance(e, list) and e and e[0] == "root-obj":
        x = sp.Symbol("x")
        poly = sp.Poly(_sexpr_to_sympy(e[1], {"x": x}), x)
        # z3 numbers the real roots from 1 in increasing order; so does CRootOf from 0
        return sp.CRootOf(poly, int(e[2]) - 1)
    return sp.Rational(_sexpr_to_sympy(e, {}))


def _parse_z3_model(text: str, names: dict) -> dict | None:
    def defines(e):
        if isinstance(e, list):
            if e and e[0] == "define-fun":
                yield e
            else:
                for item in e:
                    yield from defines(item)

    try:
        return {names[d[1]]: _z3_value(d[4]) for d in defines(_parse_sexpr(f"({text})")) if d[1] in names}
    except (ValueError, IndexError, TypeError, sp.SympifyError):
        return None


# ----------------------------------------------------------------------------- exact check


@dataclass(frozen=True)
class WitnessCheck:
    ok: bool
    reason: str
    method: str


def check_witness(polys, witness: dict, weights, deltas) -> WitnessCheck:
    """Exactly: every ``p(witness) == 0``, every weight > 0 and some delta != 0.

    Rational values are substituted exactly. Algebraic values (sympy ``CRootOf``) are handled by
    eliminating them with resultants: the value ``Q = P(alpha)`` is a root of an integer
    polynomial ``R``; if ``R(0) != 0`` then ``Q != 0``; otherwise ``Q == 0`` once an exact
    rational interval enclosure of ``Q`` lies inside Cauchy's bound below which the only root of
    ``R`` is 0. No floating point anywhere.
    """
    if any(isinstance(v, float | sp.Float) for v in witness.values()):
        return WitnessCheck(False, "a floating-point value is not an exact witness", "")
    values = {}
    for g, v in witness.items():  # exact numbers only: never text, never sympify
        if isinstance(v, bool) or not isinstance(v, int | Fraction | sp.Basic):
            return WitnessCheck(False, f"{g} = {v!r} is not an exact number", "")
        values[g] = (sp.Rational(v.numerator, v.denominator) if isinstance(v, Fraction)
                     else sp.Integer(v) if isinstance(v, int) else v)
    alg = {g: v for g, v in values.items() if not v.is_Rational}
    for g, v in alg.items():
        if not isinstance(v, sp.CRootOf) or not v.is_real:
            return WitnessCheck(False, f"{g} = {v} is neither rational nor a real CRootOf", "")
    for w in weights:
        if _sign(values[w]) <= 0:
            return WitnessCheck(False, f"weight {w} = {values[w]} is not > 0", "")
    if all(_sign(values[d]) == 0 for d in deltas):
        return WitnessCheck(False, "every delta is 0", "")
    rat = {g: v for g, v in values.items() if g not in alg}
    for p in polys:
        q = sp.Poly(p.as_expr().subs(rat), *alg.keys(), domain=sp.QQ) if alg else None
        if not alg:
            if p.as_expr().subs(rat) != 0:
                return WitnessCheck(False, f"equation {p.as_expr()} is not 0 at the witness", "")
            continue
        if not _algebraic_zero(q, alg):
            return WitnessCheck(False, f"equation {p.as_expr()} is not 0 at the witness", "")
    method = "exact rational substitution" if not alg else (
        f"exact substitution; {len(alg)} algebraic value(s) eliminated by resultants")
    return WitnessCheck(True, "", method)


def _sign(v) -> int:
    if v.is_Rational:
        return int(bool(v > 0)) - int(bool(v < 0))
    lo, hi = _interval(v, sp.Rational(1, 2**10))
    while lo <= 0 <= hi:
        if v.poly.eval(0) == 0:
            return 0
        lo, hi = _interval(v, (hi - lo) / 1024)
    return 1 if lo > 0 else -1


def _interval(root: sp.CRootOf, eps) -> tuple:
    """An exact rational isolating interval of width <= eps of the real root ``root``."""
    ivs = sorted((iv for iv, _ in sp.Poly(root.poly).intervals(eps=eps)), key=lambda iv: iv[0])
    return ivs[root.index]


def _algebraic_zero(q: sp.Poly, alg: dict) -> bool:
    if q.is_zero:
        return True
    y = sp.Dummy("y")
    res = sp.Poly(y - q.as_expr(), y, *alg.keys())
    for g, v in alg.items():
        minpoly = sp.Poly(v.poly.as_expr().subs(v.poly.gen, g), y, *alg.keys())
        res = sp.Poly(sp.resultant(res.as_expr(), minpoly.as_expr(), g), y, *alg.keys())
    r = sp.Poly(res.as_expr(), y)
    if r.is_zero:  # cannot happen for a non-zero minimal polynomial; be safe
        return False
    coeffs = r.all_coeffs()[::-1]  # constant term first
    if coeffs[0] != 0:
        return False
    v = next(i for i, c in enumerate(coeffs) if c != 0)
    s = coeffs[v:]
    if len(s) == 1:
        return True
    bound = abs(s[0]) / (abs(s[0]) + max(abs(c) for c in s[1:]))
    eps = sp.Rational(1, 2**8)
    for _ in range(7):
        lo, hi = _eval_interval(q, {g: _interval(a, eps) for g, a in alg.items()})
        if -bound < lo and hi < bound:
            return True
        if lo > 0 or hi < 0:
            return False
        eps = eps**2
    return False


def _eval_interval(q: sp.Poly, boxes: dict) -> tuple:
    lo_total = hi_total = sp.Integer(0)
    for mon, c in q.terms():
        lo = hi = sp.Rational(c)
        for g, k in zip(q.gens, mon, strict=True):
            a, b = boxes[g]
            for _ in range(k):
                prods = (lo * a, lo * b, hi * a, hi * b)
                lo, hi = min(prods), max(prods)
        lo_total += lo
        hi_total += hi
    return lo_total, hi_total
