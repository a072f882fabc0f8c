"""The solver processes of `decide`: the problem in SMT-LIB, z3 and cvc5 in child processes
under a deterministic resource budget (a wall-clock net as the safety stop only), and their
answers parsed back into exact numbers (rationals, or algebraic numbers as sympy
``CRootOf``). Nothing here decides anything: `decide` reads the answers, and every witness
is checked exactly (exactcheck.py) before it counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import sympy as sp

__all__ = ["SOLVERS", "DEFAULT_RLIMIT", "RESOURCE_LIMIT", "SAFETY_STOP"]

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
