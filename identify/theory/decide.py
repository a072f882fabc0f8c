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

import sympy as sp

from identify.errors import IdentifyError
from identify.theory import smt
from identify.theory.exactcheck import WitnessCheck, check_witness
from identify.theory.smt import DEFAULT_RLIMIT, RESOURCE_LIMIT, SAFETY_STOP, SOLVERS

__all__ = ["Decision", "decide", "equation_expr", "check_witness", "WitnessCheck", "DEFAULT_RLIMIT",
           "SAFETY_STOP", "RESOURCE_LIMIT", "SOLVERS"]


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


def equation_expr(eq) -> sp.Expr:
    """An equation (sympy expression, ``Eq``, Poly or integer) as the expression that is 0.
    Text above all is refused: never parsed here (no sympify), and no inexact floats."""
    if isinstance(eq, sp.Poly):
        return eq.as_expr()
    if isinstance(eq, sp.Equality):
        return eq.lhs - eq.rhs
    if isinstance(eq, sp.Basic):
        return eq
    if isinstance(eq, int) and not isinstance(eq, bool):
        return sp.Integer(eq)
    raise IdentifyError(f"an equation must be a sympy expression, Poly or integer, "
                        f"not {type(eq).__name__}", where="equations")


def _as_polys(equations, gens) -> list[sp.Poly]:
    polys = []
    gen_set = set(gens)
    for eq in equations:
        if isinstance(eq, sp.Poly) and eq.gens == tuple(gens):
            p = eq.set_domain(sp.QQ)
            if not p.is_zero:
                polys.append(p)
            continue
        expr = equation_expr(eq)
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
        smt._Problem(equations=ints, positive=[w for w in weights if w not in fixed],
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
                        pending[(other, c)] = smt._start(other, problem, timeout, limits[other])
                handle = pending.pop((name, c), None)
                result = (smt._collect(handle) if handle is not None
                          else smt._run(name, problem, timeout, limits[name]))
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
            smt._kill(handle[0])
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
