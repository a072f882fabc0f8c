"""The hierarchical gate's inner symmetry: relabelling the experts inside a group.

A group of a hierarchical softmax (one atom, `identify.model.hierarchy`) computes

    N(x) = sum_c exp(gamma_c . x + alpha_c) h(x, eta_c) / sum_c exp(gamma_c . x + alpha_c)

over its leaves c = 1..C, with the last leaf pinned, (gamma_C, alpha_C) = (0, 0). Any
permutation pi of the leaves gives the same function: leaf c takes the expert parameters of
leaf pi(c) and the inner gate (gamma, alpha)_pi(c) - (gamma, alpha)_pi(C), so that the new
last leaf is pinned again. Two groups that differ by such a relabelling are the same atom;
comparing parameters without it makes a fit whose residual sum of squares is below the
truth's look far away (a Voronoi loss near 11 for the default truth, before this module).

`relabel` puts every fitted atom in the labelling closest (Euclidean, over the parameters the
Voronoi cells use) to its nearest true atom, before cells and losses are computed. Groups
whose children are all leaves (the default trees, inner = 1..4, so at most 24 labellings)
are relabelled; deeper groups are compared as they are (the docstring of
`identify.numeric.voronoi` says so).
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from identify.numeric.compile import NumericModel

__all__ = ["labellings", "relabel"]


def _leaf_of(name: str, leaves: list[str]) -> str | None:
    parts = name.split("_")
    hits = [leaf for leaf in leaves if leaf in parts[1:]]
    return hits[0] if len(hits) == 1 else None


def labellings(nm: NumericModel) -> list[np.ndarray] | None:
    """Matrices M (one per leaf permutation, identity first) with relabelled atom = M @ atom,
    or None when the gate has no inner symmetry that this module handles."""
    gate = nm.model.gate
    if gate.name != "hierarchical" or gate.options.get("form", "model") != "model":
        return None
    tree, group = gate.tree, gate.group
    leaves = [str(c) for c in tree.successors(group)]
    if len(leaves) < 2 or any(tree.out_degree(c) for c in tree.successors(group)):
        return None
    names = [s.name for s in nm.atom_syms]
    expert: dict[tuple[str, str], int] = {}   # (base name, leaf) -> column
    inner: dict[tuple[str, str], int] = {}    # (gate base name, leaf) -> column
    for col, name in enumerate(names):
        leaf = _leaf_of(name, leaves)
        if leaf is None:
            continue
        base = name.replace(f"_{leaf}", "", 1)
        target = inner if base.split("_")[0] in ("gamma", "alpha") else expert
        target[(base, leaf)] = col
    gate_bases = sorted({b for b, _ in inner})
    expert_bases = sorted({b for b, _ in expert})
    last = leaves[-1]
    if any((b, leaf) not in inner for b in gate_bases for leaf in leaves[:-1]) or \
            any((b, last) in inner for b in gate_bases) or \
            any((b, leaf) not in expert for b in expert_bases for leaf in leaves):
        return None  # not the shape this module knows: compare as is
    size = len(names)
    out = []
    for pi in permutations(range(len(leaves))):
        M = np.zeros((size, size))
        for col, name in enumerate(names):
            if _leaf_of(name, leaves) is None:
                M[col, col] = 1.0  # outer gate, weight, shared: unchanged
        for c, leaf in enumerate(leaves):
            src = leaves[pi[c]]
            for b in expert_bases:
                M[expert[(b, leaf)], expert[(b, src)]] = 1.0
            if leaf == last:
                continue
            ref = leaves[pi[-1]]
            for b in gate_bases:  # (gamma, alpha)_pi(c) - (gamma, alpha)_pi(C); pinned = 0
                if src != last:
                    M[inner[(b, leaf)], inner[(b, src)]] += 1.0
                if ref != last:
                    M[inner[(b, leaf)], inner[(b, ref)]] -= 1.0
        out.append(M)
    return out


def relabel(nm: NumericModel, A: np.ndarray, At: np.ndarray, cols: list[int]) -> np.ndarray:
    """A with each fitted atom in the labelling nearest to its nearest true atom (distance over
    ``cols``); A itself when the gate has no inner symmetry (module docstring)."""
    mats = labellings(nm)
    if not mats:
        return A
    out = A.copy()
    for i, atom in enumerate(A):
        cands = [M @ atom for M in mats]
        d = [float(np.min(np.linalg.norm(At[:, cols] - c[cols], axis=1))) for c in cands]
        out[i] = cands[int(np.argmin(d))]  # ties: the first, the identity
    return out
