"""Over-fitted cells across a moving kink: exponent bounds from the smooth pieces and from
kink-fixed directions (no Taylor expansion of order 2 exists there; theory/nonsmooth.py).

For an expert whose kink moves with its parameters (``relu(a*x + b)``), block p of a cell of
m atoms gets two bounds on its loss exponent e_p, each a proof in its own right:

* **Upper bound, from a piece.** On the part of the input domain where a kink argument keeps
  one sign, every atom near the truth has the *piece's* expert exactly (``relu(u) = u`` on
  the active side, 0 on the dead one; the kink band of width O(|Delta|) is left out). The
  loss over the whole domain is at least the loss over the piece, and the piece's model is
  smooth: its cell of m atoms is derived as usual (analytic monomials independent on the
  whole domain are independent on any interval of it). So e_p <= the piece's e_p. The dead
  side of ``relu(a*x + b)`` is the zero expert, which sees beta1 and nu only.
* **Lower bound, from a kink-fixed direction.** Two atoms theta* +- t d with half the weight
  each, d moving only parameters outside every moving kink argument, or along a ray
  s theta_K of the kink arguments' parameters in which every kink argument is homogeneous
  (u(x; s theta_K) = s^k u(x; theta_K): the kink stays put, relu(s^k u) = s^k relu(u)): the
  atom function is analytic along d, the first-order terms cancel, and the cell's
  contribution is O(t^2) while |Delta_p| ~ t. So e_p >= 2 for every block d moves.

Where the bounds meet, the exponent is derived; otherwise the block is "bounded".
Only kinks in the expert are handled (the Laplace gate's |W - x| confounds W with beta0 on
each piece: no bound there).
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import sympy

from identify.model.blocks import group_blocks
from identify.model.expert import Expert
from identify.model.model import Model, build_model
from identify.symbolic.arbeval import piece_form
from identify.theory.affine import homogeneity
from identify.theory.nonsmooth import KINK_FUNCTIONS, fix_kinks, moving_kinks

__all__ = ["piece_experts", "kink_fixed_blocks", "bounded_cell"]


def _moving(model: Model, atom: dict) -> list[sympy.Expr]:
    h, _ = fix_kinks(model.expert.expr, model.parameters, model.inputs, atom)
    return moving_kinks(h, model.parameters)


def piece_experts(model: Model, atom: dict, kinks: list | None = None
                  ) -> list[tuple[Expert, str]]:
    """The expert on every sign pattern of its moving kink arguments that the atom realises
    on the input domain (a fixed sample of points), with a description of the piece."""
    kinks = _moving(model, atom) if kinks is None else kinks
    h = model.expert.expr
    # every kink of the expert splits the pieces (a fixed one too: relu(a*x) is 0 on a side)
    args = sorted({k.args[0] for k in h.atoms(*KINK_FUNCTIONS) if k.args}, key=sympy.default_sort_key)
    if not kinks or len(args) > 4:
        return []
    x = model.inputs
    rng = random.Random(11)
    seen: set[tuple[int, ...]] = set()
    for _ in range(400):
        pt = {s: sympy.Rational(rng.randint(-200, 200), 100) for s in x}
        vals = [a.subs(atom).subs(pt) for a in args]
        if all(v != 0 for v in vals):
            seen.add(tuple(1 if v > 0 else -1 for v in vals))
    out = []
    params = model.expert.parameters
    for pattern in sorted(seen, reverse=True):
        chosen = dict(zip(args, pattern, strict=True))

        def side(z, chosen=chosen):
            if z in chosen:
                return chosen[z]
            return -chosen[sympy.expand(-z)] if sympy.expand(-z) in chosen else 1

        piece = sympy.expand(piece_form(h, side))
        order = [s for s in params if s in piece.free_symbols]
        where = " and ".join(f"{sympy.sstr(a)} {'>' if s > 0 else '<'} 0" for a, s in chosen.items())
        expert = Expert(formula=sympy.sstr(piece), expr=piece, dim=model.expert.dim,
                        inputs=model.expert.inputs, blocks=group_blocks(order, model.expert.dim)
                        if order else ())
        out.append((expert, where))
    return out


def kink_fixed_blocks(model: Model, atom: dict, kinks: list | None = None
                      ) -> tuple[set[str], str]:
    """The blocks a kink-fixed direction moves, and how (the lower bound's proof)."""
    kinks = _moving(model, atom) if kinks is None else kinks
    params = set(model.parameters)
    in_kinks = set().union(*(k.args[0].free_symbols & params for k in kinks)) if kinks else set()
    free = params - in_kinks
    names = {s: b.name for b in model.blocks for s in b.symbols}
    moved = {names[s] for s in free}
    how = []
    if free:
        how.append(f"{', '.join(sorted(s.name for s in free))} (outside every moving kink)")
    ordered = tuple(sorted(in_kinks, key=lambda s: s.name))
    variables = tuple(sorted(set().union(*(k.args[0].free_symbols for k in kinks)),
                             key=sympy.default_sort_key)) if kinks else ()
    # the largest group of the kink arguments' parameters along whose ray every kink
    # argument is homogeneous (relu(a*x + b): (a, b); relu(a*(x - c)): a alone)
    for size in range(len(ordered), 0, -1):
        groups = [g for g in itertools.combinations(ordered, size)
                  if all(homogeneity(k.args[0], g, variables) is not None for k in kinks)]
        if groups:
            group = groups[0]
            moved |= {names[s] for s in group}
            how.append(f"the ray s ({', '.join(s.name for s in group)}), along which every "
                       "kink argument is homogeneous (proved by exact simplification) and the "
                       "kink stays put")
            break
    # a block moves only if all of its symbols can
    blocks = {b.name for b in model.blocks if all(names[s] in moved for s in b.symbols)}
    return blocks, "; ".join(how)


def bounded_cell(model: Model, m: int, atom: dict, kink: str, derive_options: dict):
    """The over-fitted cell of m atoms from the bounds (a CellDerivation)."""
    from identify.theory.derive import BlockExponent, CellDerivation, derive

    blocks = [b.name for b in model.blocks]
    kinks = _moving(model, atom)
    low_blocks, how = kink_fixed_blocks(model, atom, kinks)
    upper: dict[str, tuple[Fraction, str, str]] = {}
    tried = []
    for expert, where in piece_experts(model, atom, kinks):
        try:
            piece_model = build_model(expert, model.gate, dim=model.dim,
                                      estimator=model.estimator)
        except Exception as err:  # noqa: BLE001 - a piece that is no model gives no bound
            tried.append(f"{where}: no model ({err})")
            continue
        d = derive(piece_model, (m,), **derive_options)
        cd = d.cell(m)
        tried.append(f"{where}: expert {expert.formula}, cell status {cd.status}")
        for be in cd.exponents:
            if be.exponent is None or be.block not in blocks:
                continue
            if be.block not in upper or be.exponent < upper[be.block][0]:
                upper[be.block] = (be.exponent, f"on the piece {where} the expert is "
                                   f"{expert.formula} for every atom near the truth; that "
                                   f"model's cell of {m} atoms: {be.proof}", be.assumes)
    exps = []
    for b in blocks:
        lo = Fraction(2) if b in low_blocks else None
        hi = upper.get(b)
        low_text = (f"e >= 2: a level-1 witness along a kink-fixed direction ({how}): the atom "
                    "function is analytic along it, the first-order terms cancel, the cell's "
                    "contribution is O(t^2) while the block moves by t" if lo else "")
        if hi is not None and lo is not None and hi[0] == lo:
            exps.append(BlockExponent(b, lo, None, None, f"{low_text}; e <= {hi[0]}: {hi[1]}",
                                      "bounds meet (piece, kink-fixed witness)", hi[2]))
        elif hi is not None or lo is not None:
            lo_t = str(lo) if lo is not None else "1"
            hi_t = str(hi[0]) if hi is not None else "?"
            proof = "; ".join(t for t in (low_text, f"e <= {hi[0]}: {hi[1]}" if hi else "") if t)
            exps.append(BlockExponent(b, None, None, None, f"bounded, not derived: {proof}",
                                      f"bounded: {lo_t} <= e <= {hi_t}", hi[2] if hi else "",
                                      (lo if lo is not None else Fraction(1),
                                       hi[0] if hi else None)))
        else:
            exps.append(BlockExponent(b, None, None, None, f"not derived: {kink}"))
    note = ("the kink moves: bounds from the smooth pieces (" + "; ".join(tried) +
            ") and from kink-fixed directions")
    if all(e.exponent is not None for e in exps):
        status = "derived"
    elif any(e.exponent is not None or e.bounds for e in exps):
        status = "partial"
    else:
        status = "inconclusive"
    return CellDerivation(m, tuple(exps), (), status, note)

