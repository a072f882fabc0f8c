"""Benchmark: `check` against sympy's direct route, per catalog expert.

For every catalog expert (d = 1, order 2, 2 atoms), in the same run:

- ``check``: the full analysis, proofs and certificates included;
- baseline: what a person would write with sympy alone: build the same derivative family,
  ``subs`` each rational point and ``evalf(60)`` each entry of the collocation matrix
  (2 atoms, 2N + 8 input points), then ``Matrix.rank`` (no proof of anything).

Prints a table with both wall times and their ratio (baseline / check), then the tanh ridge
with bias at d = 3, then every catalog expert at order 3 (target: complete, < 2 s each) and,
with ``--order4``, at order 4. Run: ``make bench`` or
``python benchmarks/bench_check.py [--quick] [--order4] [--only-orders]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from fractions import Fraction

import sympy

from identify import check
from identify.model.catalog import CATALOG, resolve_expert
from identify.model.model import build_model
from identify.symbolic.family import taylor_family
from identify.symbolic.points import PointSampler


def baseline(name: str, dim: int = 1, order: int = 2, atoms: int = 2) -> tuple[float, int]:
    """sympy only: subs + evalf(60) every entry, Matrix.rank. Returns (seconds, rank)."""
    start = time.perf_counter()
    model = build_model(resolve_expert(name, dim, reserved={"beta1", "beta0"}))
    fam = [m.expr for m in taylor_family(model.product(), model.parameters, order)]
    fam = [e.rewrite(sympy.exp) for e in fam]
    sampler = PointSampler(0)
    atom_values = sampler.atoms(model.parameters, atoms)
    xs = [sampler.input_point(dim) for _ in range(atoms * len(fam) + 8)]
    rows = []
    for x in xs:
        row = []
        for atom in atom_values:
            sub = {s: sympy.Rational(v.numerator, v.denominator) for s, v in atom.items()}
            sub.update({s: sympy.Rational(Fraction(v).numerator, Fraction(v).denominator)
                        for s, v in zip(model.inputs, x, strict=True)})
            row.extend(e.subs(sub).evalf(60) for e in fam)
        rows.append(row)
    rank = sympy.Matrix(rows).rank()
    return time.perf_counter() - start, rank


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="three experts only")
    ap.add_argument("--order4", action="store_true", help="also every expert at order 4")
    ap.add_argument("--only-orders", action="store_true", help="only the order-3 (and 4) tables")
    args = ap.parse_args(argv)
    if args.only_orders:
        return orders(args)
    names = list(CATALOG)
    if args.quick:
        names = ["linear", "ridge-tanh", "ridge-gelu"]
    print(f"{'expert':<22} {'check s':>8} {'baseline s':>11} {'ratio':>7}  verdict / baseline rank")
    worst = 0.0
    for name in names:
        t0 = time.perf_counter()
        r = check(catalog=name)
        t_check = time.perf_counter() - t0
        t_base, rank = baseline(name)
        worst = max(worst, t_check)
        print(f"{name:<22} {t_check:8.3f} {t_base:11.3f} {t_base / t_check:7.1f}x  "
              f"{r.verdict.value} (joint rank {r.family.joint_rank}) / {rank}")
    t0 = time.perf_counter()
    r = check(catalog="ridge-tanh", dim=3)
    t3 = time.perf_counter() - t0
    print(f"\nslowest catalog check: {worst:.3f} s (target < 2 s)")
    print(f"ridge-tanh at d = 3: {t3:.3f} s (target < 30 s), {r.verdict.value}, "
          f"{len(r.relations)} relations, rank {r.family.rank}/{r.family.size}")
    return orders(args)


def orders(args: argparse.Namespace) -> int:
    """Every catalog expert at order 3 (and 4): time, completeness, relations found."""
    names = ["linear", "ridge-tanh", "ridge-gelu"] if args.quick else list(CATALOG)
    for order in (3, 4) if args.order4 else (3,):
        print(f"\norder {order}:")
        print(f"{'expert':<22} {'check s':>8} {'cpu s':>7} {'complete':>9} {'rank':>5} "
              f"{'size':>5} {'relations':>9} {'zero':>5}  verdict")
        worst, incomplete = 0.0, []
        for name in names:
            t0, c0 = time.perf_counter(), time.process_time()
            r = check(catalog=name, order=order, budget=None)
            t, cpu = time.perf_counter() - t0, time.process_time() - c0
            worst = max(worst, t)
            if not r.family.complete:
                incomplete.append(name)
            print(f"{name:<22} {t:8.3f} {cpu:7.3f} {str(r.family.complete):>9} {r.family.rank:>5} "
                  f"{r.family.size:>5} {len(r.relations):>9} {len(r.zero_functions):>5}  "
                  f"{r.verdict.value}")
        print(f"order {order}: slowest {worst:.3f} s" + (" (target < 2 s)" if order == 3 else "")
              + f"; incomplete: {', '.join(incomplete) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
