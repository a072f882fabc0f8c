"""Derive the loss exponents of every parameter block from the model (issue 9).

For each cell size m: expand one atom's function at a generic rational atom
(expansion.py), build the cell system at level r under a grading (system.py) and decide it
(decide.py: a checked witness, or a decision-procedure answer). The smallest level r*(wt)
without a real solution (w > 0, some delta != 0) gives block p the exponent r*(wt)/wt_p,
rate n^(-1/(2 e_p)); each block keeps the smallest exponent proved over the gradings
searched (grading.py). Exact-fitted cells (m = 1) are decided by exact linear algebra on the
first-order system. Every decisive answer is re-decided at a second rational atom.
"""

from __future__ import annotations

import time
from fractions import Fraction

import flint

from identify.errors import IdentifyError
from identify.model.model import Model
from identify.theory.derivation import BlockExponent, CellDerivation, Derivation, Step, certificate_kind
from identify.theory.expansion import Expansion, atom_function, expand_model
from identify.theory.grading import grading_text, gradings
from identify.theory.nonsmooth import KinkMoves, moving_kinks
from identify.theory.reduction import CONDITIONAL, Reduction, reduce_level
from identify.theory.solvability import rbar
from identify.theory.system import Grading, cell_system, initial_forms, uniform
from identify.theory.witness import find_witness

__all__ = ["Step", "BlockExponent", "CellDerivation", "Derivation", "derive", "MAX_LEVEL",
           "CONDITIONAL", "certificate_kind"]

MAX_LEVEL = 6
# a cell whose exponents rest on the cited r-bar upper bound (reduction.py): distinguishable
# from "derived" (every step machine-checked) in text, JSON and the docs table
# from this cell size on, the lifted Gauss-Hermite witness (reduction.py, exact by a span
# argument) is tried before find_witness: there the exact check of find_witness's candidates
# (2m algebraic values eliminated by resultants) did not finish in 100 s (m = 4, level 5)
LIFT_FIRST = 4
DERIVED_CITED = "derived (upper bound cited: r-bar({m}) = {v}, [D]/KMV)"
MAX_PARAMETERS = 5  # beyond this, only the uniform grading is searched (2^p gradings otherwise)
MAX_PARAMETERS_UNIFORM = 9  # larger atoms are not derived (expansion and systems grow too fast)
# expand to these orders first, higher only when a cell needs it: the level-r system is the
# same at every order >= r (a monomial first met at order R > r has no coefficient of degree
# <= r), and the low-order monomials are far fewer and cheaper to certify (GELU, Gaussian MoE:
# 146 monomials at order 2, certified in 0.3 s; 1210 at order 4, not certified at 1024 bits)
STAGES = (2, 4)
# (system key, rlimit, hint) -> (status, certificate, witness, assumes): a pure memo of a deterministic
# function (the decision under the deterministic budget, from the same witness hint), so a hit
# changes neither the answer, nor the text, nor which gradings are tried next; answers cut by
# the wall-clock safety net are not stored
_DECISIONS: dict[tuple, tuple[str, str, tuple | None, str]] = {}


def _need(m: int, max_level: int, max_weight: int) -> int:
    """The highest expansion order a derivation up to cells of m atoms can use."""
    return min(max_level, max(2 * m, 2) + (max_weight - 1)) if m > 1 else 1


def expansion_orders(need: int) -> list[int]:
    """The staged expansion orders up to ``need`` (STAGES first, then ``need`` itself)."""
    return sorted({min(need, s) for s in STAGES} | {need})


def _decide(system, timeout: float, rlimit=None):
    """decide() on a cell system. Its equations are weighted-homogeneous for the grading, but
    decide()'s case split on that grading was measured ~8x slower on the two-atom systems
    (7.0 s vs 0.96 s, Gaussian MoE level 4), so it is not passed."""
    from identify.theory.decide import decide
    return decide(system.polys, system.weights, system.all_deltas, timeout=timeout, rlimit=rlimit)


def _reduced(system, timeout: float, rlimit) -> Reduction:
    """The r-bar reduction of an undecided cell system (reduction.py): it acts on the
    system's equations, whatever model built them."""
    return reduce_level(system.polys, system.weights, system.deltas, timeout=timeout,
                        rlimit=rlimit)


def _lifted(system) -> tuple[dict, str] | None:
    """The Gauss-Hermite witness lifted through an r-bar subsystem (reduction.py), exact by
    the span argument; tried first from LIFT_FIRST atoms on."""
    from identify.theory.rbarmatch import find_rbar_subsystems
    from identify.theory.reduction import lifted_witness
    for match in find_rbar_subsystems(system.polys, system.weights, system.deltas):
        found = lifted_witness(system.polys, system.weights, system.deltas, match)
        if found is not None:
            return found
    return None


def _with_reduction(system, status: str, cert: str, witness, timeout: float, rlimit
                    ) -> tuple[str, str, dict | None, str]:
    """(status, certificate, witness, assumes): an undecided answer re-tried through an r-bar
    subsystem; CONDITIONAL when the answer rests on the cited r-bar(m) upper bound."""
    if status != "unknown":
        return status, cert, witness, ""
    red = _reduced(system, timeout, rlimit)
    if red.status in ("no solution", CONDITIONAL, "solution"):
        return (red.status, f"{red.certificate()}; the whole system, before the reduction: "
                f"{cert}", red.witness, red.assumes)
    return status, f"{cert}; r-bar reduction: {red.certificate()}", None, ""


def _hint_key(hint: dict | None, gens: tuple) -> tuple | None:
    return None if hint is None else tuple(str(hint.get(g, 0)) for g in gens)


def _decided(system, hint: dict | None, timeout: float, rlimit
             ) -> tuple[str, str, dict | None, str]:
    """(status, certificate, witness, assumes) of a cell system: a cheap exact witness, else
    decide(), else (undecided) the r-bar reduction; ``assumes`` names a cited claim.

    Memoised on the system's canonical key (its equations up to a renaming of the unknowns
    by position and a change of basis of the equations), the budget and the witness hint,
    both by position too: a hit returns what the computation would return."""
    from identify.theory.smt import SAFETY_STOP
    gens = tuple(system.weights) + system.all_deltas
    limits = tuple(sorted(rlimit.items())) if isinstance(rlimit, dict) else rlimit
    key = (system.key(), limits, _hint_key(hint, gens))
    if key in _DECISIONS:
        status, cert, values, assumes = _DECISIONS[key]
        return (status, cert, None if values is None else dict(zip(gens, values, strict=True)),
                assumes)
    found = _lifted(system) if system.cell_size >= LIFT_FIRST else None
    found = found or find_witness(system, hint)
    if found is not None:
        out = ("solution", found[1], found[0], "")
    else:
        d = _decide(system, timeout, rlimit)
        out = _with_reduction(system, d.status, d.certificate, d.witness, timeout, rlimit)
    if SAFETY_STOP not in out[1]:
        values = None if out[2] is None else tuple(out[2].get(g, 0) for g in gens)
        _DECISIONS[key] = (out[0], out[1], values, out[3])
    return out


def _blocks(expansion: Expansion) -> tuple[str, ...]:
    return tuple(dict.fromkeys(expansion.block_of()))


def _exact_cell(expansion: Expansion) -> CellDerivation:
    """m = 1: the first-order system is w L(u) = 0; no solution iff the rank is full."""
    forms = initial_forms(expansion, uniform(expansion), 1)
    n = len(expansion.parameters)
    rows = []
    for f in forms:
        row = [flint.fmpq(0)] * n
        for a, c in f.terms:
            row[a.index(1)] = flint.fmpq(int(c.p), int(c.q))
        rows.append(row)
    rank = flint.fmpq_mat(len(rows), n, [v for r in rows for v in r]).rank() if rows else 0
    blocks = _blocks(expansion)
    gr = uniform(expansion)
    step = Step(gr, 1, "no solution" if rank == n else "solution",
                f"exact rational rank {rank} of the {len(rows)} x {n} first-order system",
                0.0, len(rows))
    if rank == n:
        proof = (f"first-order system (level 1) has only the trivial solution: exact rank {n} "
                 f"of its {len(rows)} linear forms")
        return CellDerivation(1, tuple(BlockExponent(b, Fraction(1), gr, 1, proof,
                                                     "exact rank, level 1") for b in blocks),
                              (step,), "derived")
    why = (f"the first-order system has rank {rank} < {n}: a direction is invisible at exact "
           "fit (first-order degenerate)")
    return CellDerivation(1, tuple(BlockExponent(b, None, None, None, why,
                                                 f"exact rank {rank} < {n}, level 1")
                                   for b in blocks), (step,), "first-order degenerate", why)


def _search(expansion: Expansion, m: int, max_level: int, max_weight: int, timeout: float,
            budget: float, known: dict | None = None, first: tuple = (), full: bool = False,
            rlimit=None) -> tuple[dict, list[Step], list[str], dict, dict]:
    """best[block] = (exponent, grading, level); steps; notes; per-grading outcome; lows.

    ``known[g]`` = a level below which the (m-1)-atom cell had solutions under g: a solution
    for m - 1 atoms is one for m atoms (the extra atom with delta = 0), so those levels are
    not decided again. ``first`` lists gradings to try first (the best ones for m - 1).
    """
    known = known or {}
    lows: dict[Grading, int] = {}
    blocks = _blocks(expansion)
    # block -> (exponent, grading, level, assumes): the smallest exponent; at equal exponents
    # one with every step machine-checked is preferred to one resting on a cited claim
    best: dict[str, tuple[Fraction, Grading, int, str]] = {}
    steps: list[Step] = []
    notes: list[str] = []
    outcome: dict[Grading, str] = {}
    witnesses: dict[Grading, dict] = {}
    start = time.perf_counter()
    if first and not full:
        # m >= 3: the gradings that proved the (m-1)-atom exponents, then the uniform one
        order = list(dict.fromkeys([*first, gradings(blocks, 1)[0]]))
        notes.append(f"gradings searched: the {len(order)} that gave the {m - 1}-atom exponents "
                     "and the uniform one (full=True searches all)")
    else:
        order = list(dict.fromkeys([*first, *gradings(blocks, max_weight)]))
    for gr in order:
        if time.perf_counter() - start > budget:
            notes.append(f"wall-clock safety stop: the search passed {budget:g} s before the "
                         f"grading {grading_text(gr)} (this depends on the machine's load; the "
                         "deterministic budget is the solvers' rlimit)")
            break
        wt = dict(gr)

        def useful(r: int, wt=wt) -> bool:
            return any(b not in best or Fraction(r, wt[b]) < best[b][0]
                       or (Fraction(r, wt[b]) == best[b][0] and best[b][3]) for b in blocks)

        r = max(max(wt.values()), known.get(gr, 0))
        if r > max(wt.values()):
            steps.append(Step(gr, r - 1, "solution", f"embedded: the {m - 1}-atom cell has a "
                              f"solution at level {r - 1} (the extra atom with delta = 0)", 0.0, 0))
        outcome[gr] = f"solutions at every level up to {max_level}"
        while r <= max_level and useful(r):
            system = cell_system(expansion, m, r, gr)
            t0 = time.perf_counter()
            status, cert, witness, assumes = _decided(system, witnesses.get(gr), timeout, rlimit)
            if witness is not None:
                witnesses[gr] = witness
            steps.append(Step(gr, r, status, cert, time.perf_counter() - t0, len(system.forms),
                              assumes))
            if status in ("no solution", CONDITIONAL):
                outcome[gr] = f"r* = {r}" + (f" (conditional on {assumes})" if assumes else "")
                for b in blocks:
                    e = Fraction(r, wt[b])
                    if b not in best or (e, bool(assumes)) < (best[b][0], bool(best[b][3])):
                        best[b] = (e, gr, r, assumes)
                break
            if status != "solution":
                outcome[gr] = f"undecided at level {r} (solutions up to {r - 1})"
                break
            r += 1
            lows[gr] = r
        else:
            if r <= max_level:
                outcome[gr] = f"not needed beyond level {r - 1}"
        lows.setdefault(gr, r)
    return best, steps, notes, outcome, lows


def _recheck(expansion2: Expansion, m: int, gr: Grading, r: int, timeout: float,
             rlimit=None, first: str = "no solution") -> str:
    """The status of the same level at a second atom: decide, else the r-bar reduction; when
    the first atom's answer came from the reduction (``first`` is CONDITIONAL), the
    reduction first (the solvers' budgets were spent on the same question there)."""
    system = cell_system(expansion2, m, r, gr)
    if first == CONDITIONAL:
        red = _reduced(system, timeout, rlimit)
        if red.status in ("no solution", CONDITIONAL):
            return red.status
    d = _decide(system, timeout, rlimit)
    return _with_reduction(system, d.status, d.certificate, d.witness, timeout, rlimit)[0]


def _over_cell(expansion: Expansion, expansion2: Expansion | None, m: int, max_level: int,
               max_weight: int, timeout: float, budget: float, known: dict | None = None,
               first: tuple = (), full: bool = False, rlimit=None
               ) -> tuple[CellDerivation, dict]:
    blocks = _blocks(expansion)
    best, steps, notes, outcome, lows = _search(expansion, m, max_level, max_weight, timeout,
                                                budget, known, first, full, rlimit)
    exps = []
    checked: dict[tuple, bool] = {}
    for b in blocks:
        if b not in best:
            undecided = [f"{grading_text(g)}: {o}" for g, o in outcome.items() if "undecided" in o]
            why = (f"no level <= {max_level} without solutions under the {len(outcome)} "
                   f"grading(s) tried")
            if undecided:
                why += "; " + "; ".join(undecided[:2])
            kind = (next(o for o in outcome.values() if "undecided" in o) if undecided else
                    f"witnesses at every level <= {max_level}")
            exps.append(BlockExponent(b, None, None, None, why, kind))
            continue
        e, gr, r, assumes = best[b]
        no = next(s for s in steps if s.grading == gr and s.level == r)
        ok = True
        if expansion2 is not None:
            if (gr, r) not in checked:
                again = _recheck(expansion2, m, gr, r, timeout, rlimit, no.status)
                checked[(gr, r)] = again == no.status or (again == "no solution"
                                                          and no.status == CONDITIONAL)
            ok = checked[(gr, r)]
        sat_below = [s for s in steps if s.grading == gr and s.level == r - 1
                     and s.status == "solution"]
        said = ("has no real solution, conditional on " + assumes if assumes else
                "has no real solution")
        proof = (f"grading {grading_text(gr)}: level {r} {said} ({no.certificate})"
                 + (f", level {r - 1} has one" if sat_below else "")
                 + f"; e = {r}/{dict(gr)[b]}")
        if assumes and not sat_below:
            # the level below is not proved solvable by an exact witness: r* <= r only
            exps.append(BlockExponent(b, None, None, None, f"bounded, not derived: e <= "
                                      f"{e}, as level {r - 1} has no exact witness; " + proof,
                                      f"bounded: e <= {e}", assumes, (None, e)))
            continue
        if expansion2 is not None:
            proof += ("; re-decided at a second rational atom: no solution" if ok else
                      "; at a second rational atom the answer differs")
        if not ok:
            exps.append(BlockExponent(b, None, None, None, "inconclusive: " + proof,
                                      "answers differ at a second atom"))
        else:
            kind = certificate_kind(no.certificate) + f", level {r}" + (
                "" if all(w == 1 for _, w in gr) else f", {grading_text(gr)}")
            exps.append(BlockExponent(b, e, gr, r, proof, kind, assumes))
    if all(x.exponent is not None for x in exps):
        cited = next((s for s in steps if s.assumes and any(x.assumes for x in exps)), None)
        status = "derived" if cited is None else DERIVED_CITED.format(m=m, v=rbar(m).value)
    elif all(x.exponent is None for x in exps):
        bounded = any(x.bounds for x in exps)
        status = "no finite r" if not bounded and not any(
            "undecided" in o for o in outcome.values()) else "inconclusive"
    else:
        status = "partial"
    note = "; ".join(notes)
    return CellDerivation(m, tuple(exps), tuple(steps), status, note), lows


def _kinked_cell(model: Model, m: int, kink: str, blocks: tuple[str, ...], atom: dict,
                 options: dict) -> CellDerivation:
    """An over-fitted cell of a model whose kink moves: no expansion of order 2 exists.

    An exact two-atom split (least squares, a homogeneous ray such as relu(a x + b)'s) is a
    solution of every level's system, with the loss exactly 0: no finite r, proved without
    any expansion. Otherwise the cell is not derived, with the reason."""
    from identify.theory.affine import exact_splits
    splits = exact_splits(model)
    if splits:
        proof = (f"no finite r: the exact two-atom split (proved identity) leaves f_G "
                 f"unchanged, a solution of every level's system: {splits[0].text}")
        exps = tuple(BlockExponent(b, None, None, None, proof, "exact split, every level")
                     for b in blocks)
        return CellDerivation(m, exps, (), "no finite r", proof)
    gate_kinks = [k for k in moving_kinks(atom_function(model, False), model.parameters)
                  if not k.args[0].free_symbols & set(model.expert.parameters)]
    if not gate_kinks:  # the kinks are the expert's: bounds from its pieces
        from identify.theory.piecebounds import bounded_cell
        return bounded_cell(model, m, atom, kink, options)
    why = f"not derived: {kink}"
    return CellDerivation(m, tuple(BlockExponent(b, None, None, None, why) for b in blocks), (),
                          "inconclusive", why)


def derive(model: Model, cells=(1, 2), *, max_level: int | None = None, max_weight: int = 2,
           timeout: float = 60.0, budget: float = 600.0, seed: int = 0,
           normaliser: bool | None = None, recheck: bool = True, full: bool = False,
           rlimit=None) -> Derivation:
    """Derived exponents for every block of ``model`` and every cell size in ``cells``.

    ``rlimit``: the deterministic budget of every solver call, in the solvers' resource units
    (default ``decide.DEFAULT_RLIMIT``): the answers, the gradings tried and the proof text do
    not depend on the machine's load; ``timeout`` (seconds per solver call) and ``budget``
    (seconds of search per cell size) are wall-clock safety nets only, reported as "wall-clock
    safety stop" when they cut anything;
    ``full``: search every grading for m >= 3 too (default: the gradings that gave the
    (m-1)-atom exponents and the uniform one);
    ``max_level``: the highest level decided (default: MAX_LEVEL, or 2m for the largest cell
    size m when that is higher: r-bar(m) = 2m is where the location-variance systems stop).
    """
    start = time.perf_counter()
    cells = tuple(cells)
    if max_level is None:
        max_level = max(MAX_LEVEL, 2 * max(cells))
    notes: list[str] = []
    if len(model.parameters) > MAX_PARAMETERS and max_weight > 1:
        notes.append(f"only the uniform grading searched: {len(model.parameters)} parameters per "
                     f"atom exceed {MAX_PARAMETERS} (the search over weights 1..{max_weight} would "
                     f"try {max_weight ** len(model.parameters) - 1} gradings)")
        max_weight = 1
    need = _need(max(cells), max_level, max_weight)
    if len(model.parameters) > MAX_PARAMETERS_UNIFORM:
        why = (f"not derived: {len(model.parameters)} parameters per atom exceed the "
               f"derivation's limit of {MAX_PARAMETERS_UNIFORM} (expansion and systems grow too "
               "fast)")
        out = tuple(CellDerivation(m, tuple(BlockExponent(b.name, None, None, None, why)
                                            for b in model.blocks), (), "inconclusive", why)
                    for m in cells)
        return Derivation(model, None, out, (why,), time.perf_counter() - start)
    stages = expansion_orders(need)
    expansions: dict[int, tuple] = {}

    def expansions_at(order: int):
        if order not in expansions:
            e1 = expand_model(model, order, seed=seed, normaliser=normaliser)
            e2 = expand_model(model, order, seed=seed + 1, normaliser=normaliser) if recheck else None
            expansions[order] = (e1, e2)
        return expansions[order]

    kink = ""
    try:
        try:
            exp, exp2 = expansions_at(stages[0])
        except KinkMoves as err:  # no order >= 2: the exact cell from the first-order one
            kink = str(err)
            exp, exp2 = expansions_at(1)
    except IdentifyError as err:
        why = f"no expansion: {err}"
        out = tuple(CellDerivation(m, tuple(BlockExponent(b.name, None, None, None, why)
                                            for b in model.blocks), (), "inconclusive", why)
                    for m in cells)
        return Derivation(model, None, out, (why,), time.perf_counter() - start)
    if exp.independent is not True or (exp2 is not None and exp2.independent is not True):
        why = f"the monomials are not certified independent: {exp.certificate}"
        out = tuple(CellDerivation(m, tuple(BlockExponent(b, None, None, None, why)
                                            for b in _blocks(exp)), (), "inconclusive", why)
                    for m in cells)
        return Derivation(model, exp, out, (why,), time.perf_counter() - start)
    if exp.normaliser:
        notes.append("normaliser terms included: the atom function is k(x) (component - Phi) with "
                     "Phi = f_G* (p_G*) a generic function (arXiv:2305.03288, 2402.02952 proofs)")
    out = []
    known: dict = {}
    first: tuple = ()
    previous = 1
    if kink:
        notes.append(f"over-fitted cells: {kink}")
    for m in sorted(cells):
        if m == 1:
            out.append(_exact_cell(exp))
            continue
        if kink:
            out.append(_kinked_cell(model, m, kink, _blocks(exp), exp.atom,
                                    {"max_level": max_level, "max_weight": max_weight,
                                     "timeout": timeout, "budget": budget, "seed": seed,
                                     "recheck": recheck, "full": full, "rlimit": rlimit,
                                     "normaliser": normaliser}))
            continue
        for order in stages:
            e1, e2 = expansions_at(order)
            if e1.independent is not True or (e2 is not None and e2.independent is not True):
                break  # keep the result of the lower order; the note says why
            cd, lows = _over_cell(e1, e2, m, order, max_weight, timeout, budget,
                                  known if previous == m - 1 else None, first, full, rlimit)
            exp = e1
            if cd.status.startswith("derived"):
                break
        out.append(cd)
        known, previous = lows, m
        first = tuple(dict.fromkeys(e.grading for e in cd.exponents if e.grading is not None))
    return Derivation(model, exp, tuple(out), tuple(notes), time.perf_counter() - start)
