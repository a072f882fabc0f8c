"""Over-fitted cells across a moving kink: exponent bounds from the smooth pieces, jointly,
and from witnesses (no Taylor expansion of order 2 exists there; theory/nonsmooth.py).

For an expert whose kink moves with its parameters (``relu(a*x + b)``), block p of a cell of
m atoms gets two bounds on its loss exponent e_p, each a proof in its own right:

* **Upper bound, from the pieces jointly.** On the part of the input domain where every
  kink argument keeps one sign, every atom near the truth has the *piece's* expert exactly
  (``relu(u) = u`` on the active side, 0 on the dead one); for every eps > 0 the inputs
  farther than eps from the true kink are covered by the pieces once the atoms are close
  enough (the band of width O(|Delta|) between the kinks is left out). The loss over the
  domain is at least the loss over the pieces, which is the sum of the pieces' losses
  (disjoint sets of inputs). Each piece's model is smooth, so its expansion exists to every
  order and its monomials, certified independent on the whole domain, are independent on
  the piece (analytic functions). Along a sequence of fitted atoms whose loss is o(D), every
  coefficient of every piece is o(D): the cell system is the *joint* one, every piece's
  coefficient rows in the same unknowns (``joint_expansion``), and its r* bounds e_p by
  r*/wt_p. Jointly is stronger than piece by piece: for ``relu(a*x + b)`` under the
  Gaussian MoE the active side alone (the linear expert) leaves b at 4, the dead side
  (the zero expert) sees beta1 and nu only, but the dead side's coefficient of
  d phi / d nu is sum w_i dnu_i alone while the active side's has sum w_i (db_i^2 + dnu_i):
  together they force sum w_i db_i^2 = 0, and level 2 has no solution. Assumed: the true
  kink lies inside the support of X (each piece has positive probability), as at the
  generic atom drawn (``crossing_atom``).
* **Lower bound 2, from a kink-fixed direction.** Two atoms theta* +- t d with half the
  weight each, d moving only parameters outside every moving kink argument, or along a ray
  s theta_K of the kink arguments' parameters in which every kink argument is homogeneous
  (u(x; s theta_K) = s^k u(x; theta_K): the kink stays put, relu(s^k u) = s^k relu(u)): the
  atom function is analytic along d, the first-order terms cancel, and the cell's
  contribution is O(t^2) while |Delta_p| ~ t. So e_p >= 2 for every block d moves.
* **Lower bound 3/2, for any other block.** Two atoms theta* +- t e_p move the kink; their
  first-order terms cancel and the first-order L2 form's remainder is O(t^(3/2))
  (nonsmooth.py, case 2): the cell's contribution is O(t^(3/2)), so e_p >= 3/2.

Where the bounds meet, the exponent is derived; otherwise the block is "bounded".
Only kinks in the expert are handled. The Laplace gate's |W - x| is not: two atoms at
W* +- delta with weights w* / (2 cosh delta) reproduce f_G* exactly off the band
|x - W*| <= delta (e^(-(x - W* - delta)) + e^(-(x - W* + delta)) = 2 cosh(delta) e^(-(x - W*))
for x > W* + delta, and the mirror identity below), so the pieces, even jointly, bound
nothing there (docs/rates-derivation.md).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from fractions import Fraction

import sympy

from identify.model.blocks import group_blocks
from identify.model.expert import Expert
from identify.model.model import Model, build_model
from identify.symbolic.arbeval import piece_form
from identify.theory.affine import has_mixing_weight, homogeneity
from identify.theory.expansion import Expansion, expand_model
from identify.theory.nonsmooth import KINK_FUNCTIONS, fix_kinks, moving_kinks

__all__ = ["piece_experts", "kink_fixed_blocks", "joint_expansion", "crossing", "bounded_cell"]


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


def joint_expansion(model: Model, order: int, atom: dict, normaliser: bool | None = None,
                    kinks: list | None = None) -> tuple[Expansion | None, list[str]]:
    """The expansions of every piece at one atom, as one expansion of the model.

    Piece by piece (``piece_experts``), the piece's model is expanded at the atom's values of
    its parameters; its coefficient rows are written in the model's parameters (exponent 0
    in a parameter the piece's expert lacks, e.g. a and b on relu's dead side) and joined.
    The monomials of different pieces live on disjoint sets of inputs, so the union of
    certified-independent sets is independent; a piece that is no model, or whose monomials
    are not certified, is left out (fewer equations: a weaker, still valid, upper bound).
    Returns (None, notes) when no piece is left."""
    names = [s.name for s in model.parameters]
    value = {s.name: v for s, v in atom.items()}
    rows: list[dict] = []
    monos: list = []
    certs: list[str] = []
    notes: list[str] = []
    for expert, where in piece_experts(model, atom, kinks):
        try:
            piece = build_model(expert, model.gate, dim=model.dim, estimator=model.estimator)
        except Exception as err:  # noqa: BLE001 - a piece that is no model bounds nothing
            notes.append(f"{where}: no model ({err})")
            continue
        e = expand_model(piece, order, normaliser=normaliser,
                         atom={s: value[s.name] for s in piece.parameters})
        if e.independent is not True:
            notes.append(f"{where}: left out, monomials not certified ({e.certificate})")
            continue
        notes.append(f"{where}: expert {expert.formula}, {len(e.monomials)} monomials")
        where_of = [names.index(s.name) for s in e.parameters]
        for row, mono in zip(e.coefficients, e.monomials, strict=True):
            joined = {}
            for alpha, c in row.items():
                full = [0] * len(names)
                for i, k in zip(where_of, alpha, strict=True):
                    full[i] = k
                joined[tuple(full)] = c
            rows.append(joined)
            monos.append(replace(mono, label=f"[{where}] {mono.label}"))
        certs.append(f"{where}: {e.certificate}")
    if not rows:
        return None, notes
    normalised = any(m.normaliser for m in monos)
    cert = ("the pieces' joint expansion (the kink band left out; monomials of different "
            "pieces have disjoint supports): " + "; ".join(certs))
    # independent: every piece kept is certified (the others were left out above)
    return Expansion(model, order, tuple(model.parameters), dict(atom), tuple(monos),
                     tuple(rows), normalised, True, cert), notes


def crossing(model: Model, seed: int, normaliser: bool | None = None) -> dict:
    """The generic atom of ``seed`` whose kinks cross the input domain (expansion's
    ``crossing_atom`` on the atom function, with the normaliser terms when the gate has
    them, as ``expand_model`` builds it)."""
    from identify.theory.expansion import atom_function, crossing_atom
    norm = has_mixing_weight(model.gate) if normaliser is None else normaliser
    return crossing_atom(model, atom_function(model, norm), seed)


def _lower(blocks: list[str], low_blocks: set[str], how: str) -> dict[str, tuple[Fraction, str]]:
    """Block -> (lower bound, its proof): 2 along a kink-fixed direction, else 3/2."""
    two = (f"e >= 2: a level-1 witness along a kink-fixed direction ({how}): the atom "
           "function is analytic along it, the first-order terms cancel, the cell's "
           "contribution is O(t^2) while the block moves by t")
    half = ("e >= 3/2: two atoms theta* +- t e_p with half the weight each move the kink; "
            "their first-order terms cancel and the first-order L2 form's remainder is "
            "O(t^(3/2)) (theory/nonsmooth.py, case 2), while the block moves by t")
    return {b: (Fraction(2), two) if b in low_blocks else (Fraction(3, 2), half) for b in blocks}


def bounded_cell(model: Model, m: int, atom: dict, kink: str, derive_options: dict):
    """The over-fitted cell of m atoms from the bounds (a CellDerivation)."""
    from identify.theory.derive import (
        MAX_LEVEL,
        BlockExponent,
        CellDerivation,
        _need,
        _over_cell,
        expansion_orders,
    )

    opts = dict(derive_options)
    blocks = [b.name for b in model.blocks]
    kinks = _moving(model, atom)
    low_blocks, how = kink_fixed_blocks(model, atom, kinks)
    lower = _lower(blocks, low_blocks, how)
    seed, normaliser = opts.get("seed", 0), opts.get("normaliser")
    atom2 = crossing(model, seed + 1, normaliser) if opts.get("recheck", True) else None
    max_weight = opts.get("max_weight", 2)
    cd = None
    notes: list[str] = []
    for order in expansion_orders(_need(m, opts.get("max_level", MAX_LEVEL), max_weight)):
        joint, notes = joint_expansion(model, order, atom, normaliser, kinks)
        if joint is None:
            break
        joint2 = (joint_expansion(model, order, atom2, normaliser)[0]
                  if atom2 is not None else None)
        if atom2 is not None and joint2 is None:
            break
        cd, _ = _over_cell(joint, joint2, m, order, max_weight, opts.get("timeout", 60.0),
                           opts.get("budget", 600.0), None, (), opts.get("full", False),
                           opts.get("rlimit"))
        if all(e.exponent is not None and e.exponent <= lower[e.block][0]
               for e in cd.exponents):
            break
    upper = {} if cd is None else {e.block: e for e in cd.exponents if e.exponent is not None}
    pieces = "; ".join(notes)
    assumption = ("the true kink inside the support of X, so that every piece has positive "
                  "probability (the generic atom's kink crosses the domain)")
    exps = []
    for b in blocks:
        lo, low_text = lower[b]
        hi = upper.get(b)
        hi_text = (f"e <= {hi.exponent}: the loss over the domain is at least the loss over "
                   f"the pieces ({pieces}; {assumption}); their joint system: {hi.proof}"
                   if hi is not None else "")
        if hi is not None and hi.exponent < lo:
            exps.append(BlockExponent(b, None, None, None, f"inconclusive: the bounds "
                                      f"conflict ({low_text}; {hi_text})", "bounds conflict"))
        elif hi is not None and hi.exponent == lo:
            exps.append(BlockExponent(b, lo, hi.grading, hi.level, f"{low_text}; {hi_text}",
                                      "bounds meet (pieces' joint system, witness)",
                                      hi.assumes))
        else:
            hi_v = None if hi is None else hi.exponent
            proof = "; ".join(t for t in (low_text, hi_text) if t)
            exps.append(BlockExponent(b, None, None, None, f"bounded, not derived: {proof}",
                                      f"bounded: {lo} <= e <= {hi_v if hi_v else '?'}",
                                      hi.assumes if hi else "", (lo, hi_v)))
    note = ("the kink moves: an upper bound from the smooth pieces' joint system (" + pieces +
            ") and lower bounds from witnesses (kink-fixed directions, or the first-order L2 "
            "form's remainder)")
    if all(e.exponent is not None for e in exps):
        status = "derived"
    elif any(e.exponent is not None or e.bounds for e in exps):
        status = "partial"
    else:
        status = "inconclusive"
    return CellDerivation(m, tuple(exps), tuple(cd.steps) if cd else (), status, note)
