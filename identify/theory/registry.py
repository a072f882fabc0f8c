"""The rate registry: every row of theory.md section 5 as data, with its source.

Each row states, for a gate, an estimator and a class of experts, the rate of the
exact-fitted cells and of the over-fitted cells, per parameter block. Exponents follow the
Voronoi-loss convention of theory.md section 2: a block with loss exponent e converges like
n^(-1/(2e)); ``None`` means slower than any polynomial (as slow as 1/log n).

Provenance: ``verified`` (read in the paper or its code, [V] in theory.md) or ``recalled``
([R]: the best available statement, not re-read). Log factors are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

__all__ = ["RegistryRow", "REGISTRY", "solvability_index", "RBAR", "RTILDE", "POLY", "SLOW"]

# Symbolic exponents for over-fitted cells of size m:
#   a Fraction / int: fixed loss exponent e (rate n^-1/(2e))
#   ("rtilde", k): exponent rt(m) / k;  ("rbar", k): exponent rb(m) / k
#   SLOW: slower than any polynomial
SLOW = None
RBAR = "rbar"
RTILDE = "rtilde"
POLY = "poly"

# theory.md section 6 [V: 2505.10860 App. B; 2402.03226 eq. 8]
_KNOWN_INDEX = {2: 4, 3: 6}


def solvability_index(kind: str, m: int) -> int | None:
    """r-bar(m) or r-tilde(m): 4 for m = 2, 6 for m = 3; ``None`` for m >= 4 (>= 7, unknown)."""
    if m < 2:
        return 1
    return _KNOWN_INDEX.get(m)


@dataclass(frozen=True)
class RegistryRow:
    """One row of the rate registry.

    Attributes
    ----------
    key:
        Short identifier, e.g. ``softmax-lse-strong``.
    gate, estimator, experts:
        What the row is about (``experts`` names the class of experts).
    exact, over:
        Loss exponents per block role for exact-fitted (|cell| = 1) and over-fitted cells.
        Keys: ``"*"`` (every block), or a block name (``"beta1"``, ``"a"``, ``"b"``,
        ``"nu"``, ``"W"``, ``"eta"`` for every expert block, ``"gate"`` for every gate block).
    source, theorem, provenance:
        arXiv id(s), theorem or section, and ``verified`` / ``recalled``.
    note:
        Conditions or caveats stated with the result.
    """

    key: str
    gate: str
    estimator: str
    experts: str
    exact: dict = field(default_factory=dict)
    over: dict = field(default_factory=dict)
    source: str = ""
    theorem: str = ""
    provenance: str = "recalled"
    note: str = ""

    def to_dict(self) -> dict:
        def enc(d: dict) -> dict:
            return {k: (None if v is None else v if isinstance(v, (str, tuple)) else str(v))
                    for k, v in d.items()}
        return {"key": self.key, "gate": self.gate, "estimator": self.estimator,
                "experts": self.experts, "exact": enc(self.exact), "over": enc(self.over),
                "source": self.source, "theorem": self.theorem, "provenance": self.provenance,
                "note": self.note}


ONE, TWO = Fraction(1), Fraction(2)

REGISTRY: tuple[RegistryRow, ...] = (
    RegistryRow("softmax-lse-strong", "softmax", "lse", "strongly identifiable",
                {"*": ONE}, {"gate": TWO, "eta": TWO},
                "arXiv:2402.02952, arXiv:2503.03213", "main theorem (strongly identifiable experts)",
                "recalled"),
    RegistryRow("softmax-lse-linear", "softmax", "lse", "polynomial / linear (not strongly)",
                {"*": ONE}, {"gate": SLOW, "eta": SLOW},
                "arXiv:2402.02952, arXiv:2503.03213", "abstract (linear experts: exponential "
                "sample complexity)", "verified",
                "the slow rate comes from the PDE dF/da = d2F/(dbeta1 db) with zero second "
                "derivatives"),
    RegistryRow("softmax-lse-input-independent", "softmax", "lse", "input-independent",
                {}, {"gate": SLOW, "eta": SLOW}, "arXiv:2405.13997", "input-independent experts",
                "recalled", "exact-fitted rate not stated"),
    RegistryRow("softmax-mle-linear", "softmax", "gaussian", "linear mean, variance nu",
                {"*": ONE}, {"beta1": (RTILDE, 1), "b": (RTILDE, 1), "a": (RTILDE, 2),
                             "nu": (RTILDE, 2)},
                "arXiv:2305.03288, arXiv:2402.03226", "Theorem (over-fitted, r-tilde)", "verified"),
    RegistryRow("softmax-mle-strong", "softmax", "gaussian", "strongly identifiable",
                {"*": ONE}, {"*": TWO}, "arXiv:2505.10860", "Theorem 1", "verified"),
    RegistryRow("laplace-mle-linear", "laplace", "gaussian", "linear",
                {"*": ONE}, {"W": TWO, "a": TWO, "b": (RBAR, 1), "nu": (RBAR, 2)},
                "arXiv:2402.03226", "Laplace gating theorem", "verified"),
    RegistryRow("normalised-sigmoid-mle-strong", "normalised-sigmoid", "gaussian",
                "strongly identifiable", {"*": ONE}, {"*": TWO}, "arXiv:2505.10860",
                "Theorem 3", "verified", "regime: all over-specified beta1* = 0"),
    RegistryRow("normalised-sigmoid-mle-weak", "normalised-sigmoid", "gaussian",
                "weakly identifiable", {"*": ONE}, {"*": ONE}, "arXiv:2505.10860", "Theorem 4",
                "verified", "regime: some over-specified beta1* != 0"),
    RegistryRow("sigmoid-lse-ffn", "sigmoid", "lse", "ReLU/GELU FFN",
                {"*": ONE}, {"*": TWO}, "arXiv:2405.13997", "regime 1 (regime 2: n^-1/2)",
                "recalled", "regime 1 shown; in regime 2 the over-fitted rate is n^-1/2"),
    RegistryRow("temperature-any", "temperature", "any", "any",
                {"*": SLOW}, {"*": SLOW}, "arXiv:2401.13875", "abstract (dense-to-sparse gate)",
                "verified", "slower than polynomial for some parameters, from the PDE "
                "tau dF/dtau + beta1 dF/dbeta1 = 0"),
    RegistryRow("activation-temperature-mle", "activation-temperature", "gaussian", "Gaussian",
                {"*": ONE}, {"*": TWO}, "arXiv:2401.13875", "activation gate theorem",
                "recalled", "over-fitted: n^-1/4 or n^-1/2 depending on the regime"),
    RegistryRow("hierarchical-lse-strong", "hierarchical", "lse", "strongly identifiable",
                {"*": ONE}, {"gate": TWO, "eta": TWO}, "arXiv:2503.03213",
                "hierarchical softmax theorem", "recalled"),
    RegistryRow("hierarchical-lse-linear", "hierarchical", "lse", "linear (not strongly)",
                {"*": ONE}, {"gate": SLOW, "eta": SLOW}, "arXiv:2503.03213",
                "hierarchical softmax theorem", "recalled"),
    RegistryRow("hierarchical-laplace-mle-linear", "hierarchical-laplace", "gaussian", "linear",
                {"*": ONE}, {"W": TWO, "a": TWO, "b": (RBAR, 1), "nu": (RBAR, 2)},
                "arXiv:2410.02935", "as the Laplace row", "recalled"),
    RegistryRow("top-k-mle-linear", "top-k", "gaussian", "linear",
                {"*": ONE}, {"*": SLOW}, "arXiv:2309.13850", "abstract", "verified",
                "the density converges only if the K selected experts cover the cells; "
                "parameters slow"),
)
