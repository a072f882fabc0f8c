"""Benchmark: derived rates (`theory.derive`) for every catalog expert, with a baseline.

For every catalog expert (d = 1, softmax gate, least squares and Gaussian MoE), in the same
run:

- ``derive``: the full derivation for cells of 1, 2 and 3 atoms (expansion at two rational
  atoms, certified monomials, every system decided or witnessed, re-decided at the second atom);
- baseline: the Taylor coefficients the naive way, sympy ``diff`` of F for every multi-index
  up to order 3, ``subs`` of the atom and ``expand`` (no basis, no decision).

Prints one line per model: the derived exponents per block for m = 2 and m = 3 and both wall
times, and the load average before and after. Target: under 10 s per model. Every solver
call has the deterministic budget ``--rlimit-z3`` / ``--rlimit-cvc5`` (resource units; the
defaults of ``theory.decide.DEFAULT_RLIMIT``); ``--timeout`` / ``--budget`` are wall-clock
safety nets only. Run: ``python benchmarks/bench_rates.py [--quick] [--estimator
lse|gaussian] [--cells 1,2,3] [--names linear,constant]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from itertools import combinations_with_replacement

import sympy

from identify.model.catalog import CATALOG, resolve_expert
from identify.model.model import GAUSSIAN_RESERVED, build_model
from identify.theory.decide import DEFAULT_RLIMIT
from identify.theory.derive import derive
from identify.theory.expansion import generic_atom


def baseline(model, order: int = 3) -> float:
    """Seconds for the naive Taylor coefficients (sympy diff + subs + expand)."""
    start = time.perf_counter()
    F = model.product()
    atom = generic_atom(model, 0)
    cache = {(): F}
    for k in range(1, order + 1):
        for combo in combinations_with_replacement(model.parameters, k):
            cache[combo] = sympy.diff(cache[combo[:-1]], combo[-1])
            sympy.expand(cache[combo].subs(atom)) / math.factorial(k)
    return time.perf_counter() - start


def _exps(cell) -> str:
    if cell is None:
        return "-"
    return " ".join(f"{e.block}={'-' if e.exponent is None else e.exponent}" for e in cell.exponents) \
        + f" [{cell.status}]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="three experts only")
    ap.add_argument("--estimator", default="both", choices=("lse", "gaussian", "both"))
    ap.add_argument("--cells", default="1,2,3")
    ap.add_argument("--timeout", type=float, default=60.0, help="wall-clock safety net per solver call")
    ap.add_argument("--budget", type=float, default=600.0, help="wall-clock safety net per cell size")
    ap.add_argument("--rlimit-z3", type=int, default=DEFAULT_RLIMIT["z3"], help="z3 resource units per call")
    ap.add_argument("--rlimit-cvc5", type=int, default=DEFAULT_RLIMIT["cvc5"],
                    help="cvc5 resource units per call")
    ap.add_argument("--names", default="", help="comma-separated catalog names (default: all)")
    args = ap.parse_args(argv)
    names = [n for n in args.names.split(",") if n] or list(CATALOG)
    if args.quick:
        names = ["linear", "ridge-tanh", "scaled-tanh"]
    ests = ("lse", "gaussian") if args.estimator == "both" else (args.estimator,)
    cells = tuple(int(c) for c in args.cells.split(","))
    rlimit = {"z3": args.rlimit_z3, "cvc5": args.rlimit_cvc5}
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; rlimit {rlimit}")
    print(f"{'expert':<22} {'est':<8} {'derive s':>8} {'baseline s':>10}  m=2 | m=3")
    slow = 0
    for est in ests:
        for name in names:
            expert = resolve_expert(name, 1, reserved={"beta1", "beta0"} | GAUSSIAN_RESERVED)
            model = build_model(expert, "softmax", estimator=est)
            t0 = time.perf_counter()
            d = derive(model, cells, timeout=args.timeout, budget=args.budget, rlimit=rlimit)
            t = time.perf_counter() - t0
            b = baseline(model)
            by = {c.cell_size: c for c in d.cells}
            slow += t > 10
            print(f"{name:<22} {est:<8} {t:8.2f} {b:10.2f}  {_exps(by.get(2))} | {_exps(by.get(3))}",
                  flush=True)
    print(f"models over the 10 s target: {slow}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
