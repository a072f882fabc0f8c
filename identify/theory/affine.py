"""Exact two-atom splits under least squares (theory.md section 4).

If the expert is affine in a parameter u (d2h/du2 == 0: linear experts, output scales,
constant experts), one true atom can be split into two fitted atoms with the same gate,
half the weight each, and u* + delta, u* - delta: the regression function is unchanged
*exactly*. An over-fitted least-squares estimator is then not consistent along u.

The same holds along a *ray* when the expert is positively homogeneous of some degree k >= 1
in a group S of its parameters, h(s theta_S) = s^k h(theta_S) for every s > 0 (relu(a x + b)
in (a, b) with k = 1; (a x + b)^2 with k = 2): the atoms s_1 theta*_S and s_2 theta*_S with
s_1^k = 1 + delta, s_2^k = 1 - delta (0 < delta < 1) and half the weight each give
w/2 (1 + delta) h + w/2 (1 - delta) h = w h. Such an h need not be twice differentiable
(relu), so this split is what proves the over-fitted least-squares cells of ReLU experts
"not consistent" where no Taylor expansion of order 2 exists.

Only for gates with a mixing weight per atom (exp(beta0), softmax-type) and least squares:
under the Gaussian MoE two atoms with different means are not one Gaussian, and under the
sigmoid gate there is no weight to halve.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import sympy

from identify.model.expert import Expert
from identify.model.functions import relu
from identify.symbolic.proofs import prove_zero
from identify.theory.nonsmooth import kink_free

__all__ = ["AffineSplit", "affine_directions", "exact_splits", "homogeneity", "has_mixing_weight"]

_MAX_DEGREE = 4


@dataclass(frozen=True)
class AffineSplit:
    """The proof that splitting an atom along ``parameter`` leaves f_G unchanged.

    ``parameters`` lists every parameter the split moves (one for an affine parameter, the
    group S for a homogeneous ray); ``degree`` is k for a ray, 0 for an affine parameter."""

    parameter: str
    identity: str
    proof: str
    parameters: tuple[str, ...] = ()
    degree: int = 0

    @property
    def moved(self) -> tuple[str, ...]:
        return self.parameters or (self.parameter,)

    @property
    def text(self) -> str:
        if self.degree:
            k = self.degree
            root = "s_i" if k == 1 else f"s_i^{k}"
            return (f"over-fitted cells are not consistent along {self.parameter}: h is "
                    f"positively homogeneous of degree {k} in ({', '.join(self.moved)}) "
                    f"({self.identity}; {self.proof}), so w h(theta) = w/2 h(s_1 theta) + w/2 "
                    f"h(s_2 theta) exactly with {root} = 1 +- delta, 0 < delta < 1: f_G does not "
                    "change and the data cannot pull the two atoms together")
        return (f"over-fitted cells are not consistent along {self.parameter}: the split "
                f"w h({self.parameter}) = w/2 h({self.parameter} + delta) + w/2 "
                f"h({self.parameter} - delta) holds exactly ({self.identity}; {self.proof}), "
                f"so f_G does not change and the data cannot pull the two atoms together")

    def to_dict(self) -> dict:
        return {"parameter": self.parameter, "parameters": list(self.moved),
                "degree": self.degree, "identity": self.identity, "proof": self.proof,
                "text": self.text}


def homogeneity(expr: sympy.Expr, group: tuple, variables: tuple) -> tuple[int, str] | None:
    """(k, proof) when expr(s theta_group) = s^k expr(theta_group) for every s > 0, k in
    1.._MAX_DEGREE: k from floating evaluation at points where expr != 0, then the identity
    proved by exact simplification (relu and Heaviside in their kink-free forms); else None."""
    import math
    rng = random.Random(len(group) * 7919 + 17)
    k_seen, good = None, 0
    for _ in range(24):  # three points where expr != 0 (a relu is 0 on half the domain)
        point = {v: sympy.Float(rng.uniform(0.3, 1.7) * rng.choice((-1, 1))) for v in variables}
        base = complex(expr.subs(point).evalf(30))
        if abs(base) < 1e-12:
            continue
        scaled = complex(expr.subs({p: 2 * p for p in group}, simultaneous=True)
                         .subs(point).evalf(30))
        ratio = scaled / base
        if abs(ratio.imag) > 1e-9 or ratio.real <= 0:
            return None
        k = math.log2(ratio.real)
        kr = round(k)
        if abs(k - kr) > 1e-9 or not 1 <= kr <= _MAX_DEGREE or (k_seen not in (None, kr)):
            return None
        k_seen, good = kr, good + 1
        if good == 3:
            break
    if good < 3:
        return None
    s = sympy.Symbol("s", positive=True)
    identity = expr.subs({p: s * p for p in group}, simultaneous=True) - s ** k_seen * expr
    proof = prove_zero(kink_free(identity))
    return None if proof is None else (k_seen, proof)


def _rays(expert: Expert, covered: set[str]) -> list[AffineSplit]:
    h = expert.expr
    params = tuple(expert.parameters)
    variables = tuple(sorted(h.free_symbols, key=sympy.default_sort_key))
    found: list[AffineSplit] = []
    for size in range(1, len(params) + 1):
        for group in itertools.combinations(params, size):
            names = tuple(p.name for p in group)
            if set(names) <= covered or any(set(f.moved) <= set(names) for f in found):
                continue
            found_k = homogeneity(h, group, variables)
            if found_k is None:
                continue
            k, proof = found_k
            text = (f"h({', '.join(f's {n}' for n in names)}) = s^{k} h({', '.join(names)}) for "
                    "s > 0" if k > 1 else
                    f"h({', '.join(f's {n}' for n in names)}) = s h({', '.join(names)}) for s > 0")
            label = names[0] if len(names) == 1 else f"({', '.join(names)}) jointly"
            found.append(AffineSplit(label, text, proof + (", with relu(z) = (z + |z|)/2"
                                                           if h.has(relu) else ""), names, k))
    return found


def affine_directions(expert: Expert) -> tuple[AffineSplit, ...]:
    """Every exact two-atom split: affine parameters, then homogeneous rays through the atom."""
    delta = sympy.Symbol("delta", real=True)
    out = []
    h = expert.expr
    for s in expert.parameters:
        if sympy.diff(h, s, 2) != 0:
            continue
        split = (h.subs(s, s + delta) + h.subs(s, s - delta)) / 2 - h
        proof = prove_zero(split)
        if proof is None:  # pragma: no cover - d2h/du2 == 0 implies the identity
            continue
        identity = (f"(h({s.name} + delta) + h({s.name} - delta))/2 - h({s.name}) = "
                    f"{sympy.sstr(sympy.expand(split))}")
        out.append(AffineSplit(s.name, identity, proof))
    out += _rays(expert, {a.parameter for a in out})
    return tuple(out)


def has_mixing_weight(gate) -> bool:
    """A mixing weight exp(beta0) per atom, normalised over atoms (softmax-type gates): what
    the cell argument and the splits need."""
    return gate.normaliser in ("softmax", "top-k")


def exact_splits(model) -> tuple[AffineSplit, ...]:
    """The splits that hold for ``model``: least squares under a gate with a mixing weight."""
    if model.estimator.value != "lse" or not has_mixing_weight(model.gate):
        return ()
    return affine_directions(model.expert)
