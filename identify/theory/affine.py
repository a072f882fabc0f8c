"""Exactly affine directions under least squares (theory.md section 4).

If the expert is affine in a parameter u (d2h/du2 == 0: linear experts, output scales,
constant experts), one true atom can be split into two fitted atoms with the same gate,
half the weight each, and u* + delta, u* - delta: the regression function is unchanged
*exactly*. An over-fitted least-squares estimator is then not consistent along u.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from identify.model.expert import Expert
from identify.symbolic.proofs import prove_zero

__all__ = ["AffineSplit", "affine_directions"]


@dataclass(frozen=True)
class AffineSplit:
    """The proof that splitting an atom along ``parameter`` leaves f_G unchanged."""

    parameter: str
    identity: str
    proof: str

    @property
    def text(self) -> str:
        return (f"over-fitted cells are not consistent along {self.parameter}: the split "
                f"w h({self.parameter}) = w/2 h({self.parameter} + delta) + w/2 "
                f"h({self.parameter} - delta) holds exactly ({self.identity}; {self.proof}), "
                f"so f_G does not change and the data cannot pull the two atoms together")

    def to_dict(self) -> dict:
        return {"parameter": self.parameter, "identity": self.identity, "proof": self.proof,
                "text": self.text}


def affine_directions(expert: Expert) -> tuple[AffineSplit, ...]:
    """Every expert parameter in which h is affine, with the proved two-atom split."""
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
    return tuple(out)
