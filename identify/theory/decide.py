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

Every solver runs in its own child process, killed when its budget is spent (cvc5's ``tlimit``
alone does not stop it on these systems: measured), so nothing hangs and nothing is left behind.

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

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "witness": None if self.witness is None else {str(k): str(v) for k, v in self.witness.items()},
            "certificate": self.certificate,
            "solvers": list(self.solvers),
            "seconds": self.seconds,
            "answers": [{"solver": s, "answer": a, "seconds": t} for s, a, t in self.answers],
        }


def _as_polys(equations, gens) -> list[sp.Poly]:
    polys = []
    gen_set = set(gens)
    for eq in equations:
        expr = sp.sympify(eq)
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


def _cases(deltas, grading, polys, gens):
    """The normalised cases of ``some delta != 0``: a list of (assignments, description)."""
    if grading is None:
        return [({}, None)]
    index = {g: i for i, g in enumerate(gens)}
    grade = [int(grading.get(g, 0)) for g in gens]
    if any(grade[index[d]] <= 0 for d in deltas):
        raise IdentifyError("the grading must give every delta a positive integer degree", where="grading")
    if any(x < 0 for x in grade):
        raise IdentifyError("grading degrees must be >= 0", where="grading")
    for p in polys:
        if not _homogeneous_in(p, range(len(gens)), grade):
            raise IdentifyError(f"equation is not weighted-homogeneous for the grading: {p.as_expr()}",
                                where="grading")
    cases = []
    for j, d in enumerate(deltas):
        zero = {e: sp.Integer(0) for e in deltas[:j]}
        signs = (1,) if grade[index[d]] % 2 else (1, -1)
        for s in signs:
            cases.append(({**zero, d: sp.Integer(s)}, f"{d} = {s}" + (f", {', '.join(map(str, zero))} = 0"
                                                                        if zero else "")))
    return cases


def decide(
    equations,
    weights: Sequence[sp.Symbol],
    deltas: Sequence[sp.Symbol],
    *,
    timeout: float = 10.0,
    free: Sequence[sp.Symbol] = (),
    grading: Mapping[sp.Symbol, int] | None = None,
    solvers: Sequence[str] = ("z3", "cvc5"),
    cross_check: bool = True,
) -> Decision:
    """Real solution of all ``equations == 0`` with every weight > 0 and some delta != 0?

    Parameters
    ----------
    equations:
        sympy polynomials (rational coefficients) in ``weights``, ``deltas`` and ``free``.
    weights, deltas, free:
        the unknowns: weights must be > 0, some delta must be non-zero, free ones are unconstrained.
    timeout:
        seconds per solver (wall clock of its child process, killed when spent).
    grading:
        optional weights making every equation weighted-homogeneous (see the module docstring).
    solvers:
        which decision procedures to use, in order (``"z3"``, ``"cvc5"``).
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
    for name in solvers:
        if name not in SOLVERS:
            raise IdentifyError(f"unknown solver {name!r}", hint=f"use one of {', '.join(SOLVERS)}")
    polys = _as_polys(equations, gens)
    ints = [_integer_poly(p) for p in polys]
    notes = []
    fixed: dict = {}
    if weights and all(_homogeneous_in(p, range(len(weights)), [1] * len(weights)) for p in ints):
        fixed[weights[0]] = sp.Integer(1)
        notes.append(f"homogeneous in the weights: {weights[0]} = 1")
    cases = _cases(deltas, grading, ints, gens)
    if grading is not None:
        notes.append(f"graded, 'some delta != 0' split into {len(cases)} normalised cases")

    answers: list[tuple[str, str, float]] = []
    used: list[str] = []
    per_case_unsat: list[dict[str, str]] = []
    for assign, label in cases:
        case_fixed = {**fixed, **assign}
        problem = _Problem(
            equations=ints, positive=[w for w in weights if w not in case_fixed],
            nonzero=[] if grading is not None else list(deltas), fixed=case_fixed, gens=gens,
        )
        verdicts: dict[str, str] = {}
        for k, name in enumerate(solvers):
            if k > 0 and not cross_check and "unsat" in verdicts.values():
                break
            result = _run(name, problem, timeout)
            if name not in used:
                used.append(name)
            tag = name if label is None else f"{name} [{label}]"
            answers.append((tag, result.answer, result.seconds))
            verdicts[name] = result.answer
            if result.answer == "sat" and result.model is not None:
                witness = {**case_fixed, **{g: v for g, v in result.model.items() if g in gens}}
                for g in gens:
                    witness.setdefault(g, sp.Integer(0))
                chk = check_witness(polys, witness, weights, deltas)
                if chk.ok:
                    return _finish("solution", witness, _cert_solution(name, chk, notes, answers),
                                   used, start, answers)
                verdicts[name] = "sat (witness failed the exact check)"
                answers[-1] = (tag, f"sat, witness rejected: {chk.reason}", result.seconds)
        per_case_unsat.append(verdicts)
    return _conclude(per_case_unsat, notes, used, start, answers)


def _cert_solution(name: str, chk: WitnessCheck, notes, answers) -> str:
    parts = [f"{name}: sat; witness checked exactly ({chk.method})"]
    parts += [f"{s}: {a}" for s, a, _ in answers if not s.startswith(name) and a != "sat"]
    return "; ".join(parts + notes)


def _conclude(per_case, notes, used, start, answers) -> Decision:
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
    summary = "; ".join(f"{s}: {a} ({t:.2f} s)" for s, a, t in answers)
    if status == "no solution":
        agreeing = sorted({s for v in per_case for s, a in v.items() if a == "unsat"})
        every_case_both = all(sum(a == "unsat" for a in v.values()) >= 2 for v in per_case)
        head = ("unsat from " + " and ".join(agreeing) + (" (cross-checked)" if every_case_both
                                                         else " (not cross-checked in every case)"))
        return _finish(status, None, "; ".join([head, summary, *notes]), used, start, answers)
    return _finish(status, None, "; ".join([*dict.fromkeys(reasons), summary, *notes]), used, start, answers)


def _finish(status, witness, certificate, used, start, answers) -> Decision:
    return Decision(status=status, witness=witness, certificate=certificate, solvers=tuple(used),
                    seconds=time.perf_counter() - start, answers=tuple(answers))


# ----------------------------------------------------------------------------- solvers

SOLVERS = ("z3", "cvc5")


@dataclass(frozen=True)
class _Problem:
    """Integer polynomials == 0, ``positive`` > 0, some of ``nonzero`` != 0, ``fixed`` substituted."""

    equations: list
    positive: list
    nonzero: list
    fixed: dict
    gens: tuple

    def smtlib(self) -> tuple[str, dict[str, sp.Symbol]]:
        names = {f"v{i}": g for i, g in enumerate(self.gens) if g not in self.fixed}
        back = {g: n for n, g in names.items()}
        lines = ["(set-logic QF_NRA)"] + [f"(declare-fun {n} () Real)" for n in names]
        for p in self.equations:
            q = p.as_expr().subs(self.fixed) if self.fixed else p.as_expr()
            q = sp.Poly(q, *self.gens, domain=sp.QQ)
            if q.is_zero:
                continue
            q = _integer_poly(q)
            lines.append(f"(assert (= {_smt_poly(q, back)} 0))")
        lines += [f"(assert (> {back[w]} 0))" for w in self.positive]
        if self.nonzero:
            some = " ".join(f"(not (= {back[d]} 0))" for d in self.nonzero)
            lines.append(f"(assert (or {some} false))")
        return "\n".join(lines) + "\n", names


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
    answer: str  # "sat" | "unsat" | "unknown" | "timeout" | "error: ..."
    model: dict | None
    seconds: float


_CVC5_CHILD = r"""
import json, sys
import cvc5
tm = cvc5.TermManager()
s = cvc5.Solver(tm)
s.setOption("produce-models", "true")
s.setOption("tlimit", sys.argv[1])
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
print(json.dumps({"answer": ans, "model": model}))
"""


def _run(name: str, problem: _Problem, timeout: float) -> _Result:
    import json
    import os
    import shutil
    import subprocess
    import sys

    text, names = problem.smtlib()
    ms = max(1, int(timeout * 1000))
    if name == "z3":
        exe = shutil.which("z3", path=os.path.dirname(sys.executable)) or shutil.which("z3")
        if exe is None:
            return _Result("error: z3 executable not found", None, 0.0)
        cmd = [exe, "-in", "-smt2", f"-t:{ms}", f"-T:{max(1, int(timeout) + 1)}"]
        text += "(check-sat)\n(get-model)\n"
    else:
        cmd = [sys.executable, "-c", _CVC5_CHILD, str(ms)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(text, timeout=timeout + 0.5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return _Result("timeout", None, time.perf_counter() - t0)
    secs = time.perf_counter() - t0
    if name == "z3":
        head = out.strip().split("\n", 1)[0].strip() if out.strip() else ""
        if head not in ("sat", "unsat", "unknown"):
            return _Result("timeout" if "timeout" in out + err else f"error: {(out + err).strip()[:200]}",
                           None, secs)
        model = _parse_z3_model(out.split("\n", 1)[1], names) if head == "sat" else None
        return _Result(head, model, secs)
    try:
        data = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return _Result(f"error: {(out + err).strip()[-200:]}", None, secs)
    answer = data["answer"]
    if answer == "unknown" and secs >= timeout * 0.9:
        answer = "timeout"
    model = None
    if answer == "sat":
        try:
            model = {names[k]: _cvc5_value(v) for k, v in data["model"].items() if k in names}
        except (ValueError, sp.SympifyError):
            model = None
    return _Result(answer, model, secs)


def _cvc5_value(v):
    if v[0] == "q":
        return sp.Rational(v[1])
    x = sp.Symbol("x")
    poly = sp.Poly(_sexpr_to_sympy(_parse_sexpr(v[1]), {"x": x}), x)
    lo, hi = sp.Rational(v[2]), sp.Rational(v[3])
    return _root_in(poly, lo, hi)


def _root_in(poly: sp.Poly, lo, hi):
    """The unique real root of ``poly`` in [lo, hi], as an exact CRootOf (error if not unique)."""
    inside = [r for r in set(sp.Poly(poly).real_roots()) if lo <= r <= hi]
    if len(set(inside)) != 1:
        raise ValueError("the interval does not isolate one root")
    return inside[0]


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
    try:
        body = _parse_sexpr(text)
        model = {}
        for item in body:
            if isinstance(item, list) and item and item[0] == "define-fun" and item[1] in names:
                model[names[item[1]]] = _z3_value(item[4])
        return model
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
    values = {g: sp.sympify(v) for g, v in witness.items()}
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
    for _ in range(12):
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
