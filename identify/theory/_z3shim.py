"""TEMPORARY stand-in for identify.theory.decide (branch `decide`) until it is merged.

Same signature and result shape; z3 only, no cross-check. Removed once decide.py lands.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sympy


@dataclass(frozen=True)
class Decision:
    status: str
    witness: dict | None
    certificate: str
    solvers: tuple[str, ...]
    seconds: float

    def to_dict(self) -> dict:
        return {"status": self.status, "certificate": self.certificate,
                "solvers": list(self.solvers), "seconds": round(self.seconds, 3),
                "witness": None if self.witness is None else
                {str(k): str(v) for k, v in self.witness.items()}}


def decide(equations, weights, deltas, *, timeout=10.0) -> Decision:
    import z3
    start = time.perf_counter()
    syms = list(weights) + list(deltas)
    zv = {s: z3.Real(s.name) for s in syms}
    s = z3.SolverFor("QF_NRA")
    s.set("timeout", int(timeout * 1000))
    for e in equations:
        p = sympy.Poly(e, *syms)
        terms = []
        for monom, c in p.terms():
            t = z3.RealVal(f"{c.p}/{c.q}")
            for v, k in zip(syms, monom, strict=True):
                if k:
                    t = t * zv[v] ** k if k > 1 else t * zv[v]
            terms.append(t)
        s.add(z3.Sum(terms) == 0 if terms else z3.BoolVal(True))
    for w in weights:
        s.add(zv[w] > 0)
    s.add(z3.Or([zv[d] != 0 for d in deltas]))
    res = s.check()
    dt = time.perf_counter() - start
    if res == z3.sat:
        return Decision("solution", None, "z3 nlsat: sat (shim, witness not checked)", ("z3",), dt)
    if res == z3.unsat:
        return Decision("no solution", None, "z3 nlsat: unsat (shim, not cross-checked)", ("z3",), dt)
    return Decision("unknown", None, f"z3: {s.reason_unknown()}", ("z3",), dt)
