"""Gates: how a mixture weighs its experts.

A gate turns an expert into the function of one atom that the analyzer differentiates
(theory.md section 3b). For most gates that is a *kernel* times the expert,
F = kernel(x; gate parameters) * h(x; eta); a gate whose atoms are not of that form (the
hierarchical softmax, whose inner normaliser does not cancel) overrides :meth:`Gate.product`.
The analyzer only ever calls :meth:`Gate.product`, so a new gate is a new subclass here
and nothing else changes.

The softmax weight exp(beta0) (the "bias") is not part of the kernel: it is the atom's
weight in the mixing measure, and softmax is invariant to a common shift, so the last
atom's (beta0, beta1) is pinned to (0, 0) (theory.md section 1).

Gate specifications on the command line: ``NAME`` or ``NAME:key=value,key=value``, e.g.
``activation-temperature:activation=sigmoid`` or ``top-k:k=2,experts=4``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import sympy

from identify.errors import ConfigError
from identify.model.blocks import ParamBlock, flatten
from identify.model.functions import sigmoid
from identify.model.parse import make_symbol

if TYPE_CHECKING:  # pragma: no cover
    from identify.model.expert import Expert

__all__ = ["Gate", "GATES", "get_gate", "Softmax", "Hierarchical", "Temperature", "ActivationTemperature",
           "Laplace", "Sigmoid", "NormalisedSigmoid", "TopK"]


def vector(stem: str, dim: int) -> tuple[sympy.Symbol, ...]:
    """``(stem,)`` for d = 1, ``(stem_1, ..., stem_d)`` otherwise (d is checked first)."""
    from identify.model.expert import input_names

    input_names(dim)  # refuses a dimension out of range before allocating anything
    if dim == 1:
        return (make_symbol(stem),)
    return tuple(make_symbol(f"{stem}_{i}") for i in range(1, dim + 1))


def dot(u: tuple[sympy.Symbol, ...], v: tuple[sympy.Symbol, ...]) -> sympy.Expr:
    return sympy.Add(*[a * b for a, b in zip(u, v, strict=True)])


class Gate(ABC):
    """Base class of gates.

    Subclasses declare ``name``, ``summary``, ``reference`` (arXiv ids) and ``_options``
    (option name -> (type, default)), and implement :meth:`blocks` and :meth:`kernel`.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    reference: ClassVar[str]
    weight: ClassVar[str] = "exp(beta0)"
    _options: ClassVar[dict[str, tuple[type, Any]]] = {}

    def __init__(self, **options: Any):
        unknown = set(options) - set(self._options)
        if unknown:
            known = ", ".join(self._options) or "none"
            raise ConfigError(f"the {self.name} gate has no option {sorted(unknown)[0]!r} "
                              f"(options: {known})", where="gate")
        self.options: dict[str, Any] = {}
        for key, (typ, default) in self._options.items():
            value = options.get(key, default)
            try:
                value = typ(value)
            except (TypeError, ValueError):
                raise ConfigError(f"the {self.name} gate's option {key} must be a "
                                  f"{typ.__name__}, got {value!r}", where="gate") from None
            self.options[key] = value
        self._validate()

    def _validate(self) -> None:  # noqa: B027  (an optional hook, not abstract)
        """Check option values (subclasses raise ConfigError)."""

    @abstractmethod
    def blocks(self, dim: int) -> tuple[ParamBlock, ...]:
        """The gate's parameter blocks that enter the kernel (the weight excluded)."""

    @abstractmethod
    def kernel(self, inputs: tuple[sympy.Symbol, ...], dim: int) -> sympy.Expr:
        """The kernel multiplying the expert in one atom's gate-times-expert product."""

    def product(self, inputs: tuple[sympy.Symbol, ...], expert: Expert
                ) -> tuple[sympy.Expr, tuple[ParamBlock, ...]]:
        """One atom's analysed function (of the inputs) and its parameter blocks."""
        return self.kernel(inputs, expert.dim) * expert.expr, self.blocks(expert.dim) + expert.blocks

    def reserved_names(self, dim: int) -> frozenset[str]:
        """Names an expert formula may not use: every name the gate generates in dimension
        ``dim`` (its parameters, its blocks' names such as the vector ``beta1``, the bias
        ``beta0`` and the shared parameters)."""
        blocks = self.blocks(dim)
        return frozenset({s.name for s in flatten(blocks)} | {b.name for b in blocks}
                         | {"beta0"} | set(self.shared))

    # -- numerics (identify.numeric): the whole gate, not only one atom's kernel ----------
    #: how scores become weights: "softmax", "sigmoid", "normalised-sigmoid" or "top-k"
    normaliser: ClassVar[str] = "softmax"
    #: parameters shared by all atoms (e.g. the temperature)
    shared: ClassVar[tuple[str, ...]] = ()
    #: parameters pinned to 0 in the last atom (softmax shift invariance)
    pinned: ClassVar[tuple[str, ...]] = ("beta0", "beta1")

    def score(self, inputs: tuple[sympy.Symbol, ...], dim: int) -> sympy.Expr:
        """One atom's score s_i(x) (bias beta0 included); weights are normalise(scores)."""
        return sympy.log(self.kernel(inputs, dim)) + make_symbol("beta0")

    def weight_of(self, values: Mapping[str, float]) -> float:
        """The atom's weight in the mixing measure (theory.md section 2)."""
        import math
        return math.exp(values["beta0"])

    @property
    def spec(self) -> str:
        """The specification that rebuilds this gate, e.g. ``top-k:k=2,experts=4``."""
        changed = {k: v for k, v in self.options.items() if v != self._options[k][1]}
        if not changed:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in changed.items())

    def to_dict(self) -> dict:
        return {"name": self.name, "spec": self.spec, "summary": self.summary,
                "reference": self.reference, "weight": self.weight, "options": dict(self.options)}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.options == other.options  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(map(str, self.options.items())))))


class Softmax(Gate):
    """Standard softmax gate: g_i(x) = exp(beta1_i . x + beta0_i) / sum_j exp(beta1_j . x + beta0_j)."""

    name = "softmax"
    summary = "softmax(beta1 . x + beta0); kernel exp(beta1 . x), weight exp(beta0)"
    reference = "arXiv:2503.03213, arXiv:2402.02952"

    def blocks(self, dim: int) -> tuple[ParamBlock, ...]:
        return (ParamBlock("beta1", vector("beta1", dim), role="gate"),)

    def kernel(self, inputs: tuple[sympy.Symbol, ...], dim: int) -> sympy.Expr:
        return sympy.exp(dot(vector("beta1", dim), inputs))


class Temperature(Gate):
    """Dense-to-sparse gate: softmax((beta1 . x + beta0) / tau), tau > 0 shared by all experts."""

    shared = ("tau",)
    name = "temperature"
    summary = "softmax((beta1 . x + beta0) / tau); kernel exp(beta1 . x / tau), tau > 0"
    reference = "arXiv:2401.13875"
    weight = "exp(beta0 / tau)"

    def blocks(self, dim: int) -> tuple[ParamBlock, ...]:
        return (ParamBlock("beta1", vector("beta1", dim), role="gate"),
                ParamBlock("tau", (make_symbol("tau"),), role="gate", positive=True))

    def kernel(self, inputs: tuple[sympy.Symbol, ...], dim: int) -> sympy.Expr:
        return sympy.exp(dot(vector("beta1", dim), inputs) / make_symbol("tau"))

    def score(self, inputs: tuple[sympy.Symbol, ...], dim: int) -> sympy.Expr:
        return (dot(vector("beta1", dim), inputs) + make_symbol("beta0")) / make_symbol("tau")


_ACTIVATIONS = {"tanh": sympy.tanh, "sigmoid": sigmoid}


class ActivationTemperature(Gate):
    """Activation dense-to-sparse gate: softmax(A(beta1 . x) / tau + beta0), A in {tanh, sigmoid}."""

    name = "activation-temperature"
    shared = ("tau",)
    pinned = ("beta0",)
    summary = "softmax(A(beta1 . x) / tau + beta0); kernel exp(A(beta1 . x) / tau)"
    reference = "arXiv:2401.13875"
    _options = {"activation": (str, "tanh")}

    def _validate(self) -> None:  # noqa: B027  (an optional hook, not abstract)
        if self.options["activation"] not in _ACTIVATIONS:
            raise ConfigError(f"activation must be one of {', '.join(_ACTIVATIONS)}, got "
                              f"{self.options['activation']!r}", where="gate")

    def blocks(self, dim: int) -> tuple[ParamBlock, ...]:
        return Temperature().blocks(dim)

    def kernel(self, inputs: tuple[sympy.Symbol, ...], dim: int) -> sympy.Expr:
        act = _ACTIVATIONS[self.options["activation"]]
        return sympy.exp(act(dot(vector("beta1", dim), inputs)) / make_symbol("tau"))


class Laplace(Gate):
    """Laplace gate: softmax(-||W - x|| + beta0) (Euclidean norm; smooth off x = W)."""

    name = "laplace"
    pinned = ("beta0",)
    summary = "softmax(-||W - x|| + beta0); kernel exp(-||W - x||), smooth where x != W"
    reference = "arXiv:2402.03226, arXiv:2410.02935"

    def blocks(self, dim: int) -> tuple[ParamBlock, ...]:
        return (ParamBlock("W", vector("W", dim), role="gate"),)

    def kernel(self, inputs: tuple[sympy.Symbol, ...], dim: int) -> sympy.Expr:
        w = vector("W", dim)
        if dim == 1:
            return sympy.exp(-sympy.Abs(w[0] - inputs[0]))
        return sympy.exp(-sympy.sqrt(sympy.Add(*[(a - b) ** 2 for a, b in zip(w, inputs,
                                                                                strict=True)])))


class Sigmoid(Gate):
    """Sigmoid gate, not normalised: g_i(x) = sigma(beta1_i . x + beta0_i)."""

    name = "sigmoid"
    normaliser = "sigmoid"
    pinned = ()
    summary = "sigma(beta1 . x + beta0), not normalised; the bias is a kernel parameter"
    reference = "arXiv:2405.13997"
    weight = "none (beta0 sits inside the sigmoid)"

    def blocks(self, dim: int) -> tuple[ParamBlock, ...]:
        return (ParamBlock("beta1", vector("beta1", dim), role="gate"),
                ParamBlock("beta0", (make_symbol("beta0"),), role="gate"))

    def kernel(self, inputs: tuple[sympy.Symbol, ...], dim: int) -> sympy.Expr:
        return sigmoid(dot(vector("beta1", dim), inputs) + make_symbol("beta0"))

    def score(self, inputs: tuple[sympy.Symbol, ...], dim: int) -> sympy.Expr:
        return dot(vector("beta1", dim), inputs) + make_symbol("beta0")

    def weight_of(self, values: Mapping[str, float]) -> float:
        return 1.0


class NormalisedSigmoid(Sigmoid):
    """Normalised sigmoid gate: sigma(s_i) / sum_j sigma(s_j), analysed through its numerator."""

    name = "normalised-sigmoid"
    normaliser = "normalised-sigmoid"
    summary = "sigma(beta1 . x + beta0) / sum_j sigma(...); kernel sigma(beta1 . x + beta0)"
    reference = "arXiv:2505.10860"


class TopK(Softmax):
    """Top-K sparse softmax: softmax over the K largest scores, 0 elsewhere.

    Analysed as softmax on the selected experts; the coverage condition (every true atom's
    cell is reached by a selected expert) is reported by the rate prediction.
    """

    name = "top-k"
    normaliser = "top-k"
    summary = "softmax over the K largest of `experts` scores; analysed as softmax on the selected"
    reference = "arXiv:2309.13850"
    _options = {"k": (int, 2), "experts": (int, 4)}

    def _validate(self) -> None:  # noqa: B027  (an optional hook, not abstract)
        k, e = self.options["k"], self.options["experts"]
        if e < 1:
            raise ConfigError(f"top-k needs at least one expert, got experts={e}", where="gate")
        if not 1 <= k <= e:
            raise ConfigError(f"top-k needs 1 <= K <= experts, got K={k} with {e} experts",
                              where="gate")


def _parse_options(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"gate options are key=value pairs, got {part!r}", where="gate")
        if key.strip() in out:
            raise ConfigError(f"the gate option {key.strip()!r} is given twice", where="gate")
        out[key.strip()] = value.strip()
    return out


def get_gate(spec: str | Gate, **options: Any) -> Gate:
    """The gate for ``spec`` (``NAME`` or ``NAME:key=value,...``); a :class:`Gate` is returned as is."""
    if isinstance(spec, Gate):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"a gate is a name or a Gate, got {type(spec).__name__}", where="gate")
    name, _, opts = spec.partition(":")
    name = name.strip().lower()
    if name not in GATES:
        known = ", ".join(sorted(GATES))
        raise ConfigError(f"unknown gate {name!r}; known gates: {known}", where="gate")
    merged: Mapping[str, Any] = {**_parse_options(opts), **options}
    return GATES[name](**merged)




from identify.model.hierarchy import Hierarchical  # noqa: E402  (it subclasses Gate)

GATES: dict[str, type[Gate]] = {cls.name: cls for cls in (
    Softmax, Temperature, ActivationTemperature, Hierarchical, Laplace, Sigmoid,
    NormalisedSigmoid, TopK)}
