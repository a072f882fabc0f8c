"""Predicted estimation rates from a verdict: `predict` and its result.

For each parameter block and each cell size (1 = exact-fitted, m > 1 = over-fitted cell of
m atoms): the loss exponent e, the rate n^(-1/(2e)) as a formula, the samples needed for an
error eps, and where the claim comes from (registry row, theorem, arXiv id, and whether the
expert was matched by name or by its verdict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from identify import display
from identify.errors import ConfigError
from identify.symbolic.check import CheckResult
from identify.symbolic.verdict import Verdict
from identify.theory.affine import AffineSplit, affine_directions
from identify.theory.registry import REGISTRY, RTILDE, RegistryRow, solvability_index

__all__ = ["BlockRate", "Prediction", "predict", "parse_cells"]

# catalog names matched by name to a registry class (the papers' own examples)
_BY_NAME = {
    "ridge-sigmoid": "strong", "ridge-tanh": "strong", "ridge-gelu": "strong",
    "ridge-softplus": "strong", "linear": "linear", "ridge-identity": "linear",
    "polynomial-2": "linear", "polynomial-3": "linear", "constant": "input-independent",
}


@dataclass(frozen=True)
class BlockRate:
    """The predicted rate of one parameter block in cells of one size."""

    block: str
    role: str
    cell_size: int
    exponent: Fraction | None
    rate: str
    samples: str
    note: str = ""

    def to_dict(self) -> dict:
        return {"block": self.block, "role": self.role, "cell_size": self.cell_size,
                "exponent": None if self.exponent is None else str(self.exponent),
                "rate": self.rate, "samples": self.samples, "note": self.note}


@dataclass(frozen=True)
class Prediction:
    """Rates for every block and cell size, with their provenance."""

    row: RegistryRow | None
    match: str
    provenance: str
    rates: tuple[BlockRate, ...]
    cell_sizes: tuple[int, ...]
    affine: tuple[AffineSplit, ...]
    warnings: tuple[str, ...]
    __repr__, __str__, _repr_html_, _repr_markdown_, to_frame = display.PREDICTION

    def to_dict(self) -> dict:
        return {"row": self.row.to_dict() if self.row else None, "match": self.match,
                "provenance": self.provenance, "cell_sizes": list(self.cell_sizes),
                "rates": [r.to_dict() for r in self.rates],
                "affine_directions": [a.to_dict() for a in self.affine],
                "warnings": list(self.warnings)}


def parse_cells(text: str | Sequence[int]) -> tuple[int, ...]:
    """``"1,2"`` -> (1, 2); every cell size must be an integer >= 1."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        try:
            m = int(str(item).strip())
        except ValueError:
            raise ConfigError(f"cell sizes are integers >= 1, got {item!r}", where="cells") from None
        if m < 1:
            raise ConfigError(f"cell sizes must be >= 1 (1 = exact-fitted), got {m}",
                              where="cells")
        out.append(m)
    if not out:
        raise ConfigError("give at least one cell size, e.g. --cells 1,2", where="cells")
    return tuple(dict.fromkeys(out))


def _expert_class(result: CheckResult) -> tuple[str, str]:
    """(class, how matched): class in strong / linear / input-independent / weak / degenerate."""
    expert = result.model.expert
    if expert.input_independent:
        return "input-independent", "from the formula (no input appears)"
    if expert.name in _BY_NAME:
        return _BY_NAME[expert.name], f"by name (catalog entry {expert.name})"
    v = result.verdict
    cls = {Verdict.STRONG: "strong", Verdict.WEAK: "linear", Verdict.NOT: "linear",
           Verdict.FIRST_ORDER: "degenerate", Verdict.INCONCLUSIVE: "unknown"}[v]
    return cls, f"by verdict ({v.value})"


_CLASS_WORDS = {"strong": ("strongly identifiable", "ffn", "gaussian", "any"),
                "linear": ("linear", "polynomial", "weakly", "any"),
                "input-independent": ("input-independent", "any"),
                "degenerate": ("any",), "unknown": ()}


def _find_row(gate: str, estimator: str, cls: str) -> RegistryRow | None:
    words = _CLASS_WORDS[cls]
    for w in words:
        for row in REGISTRY:
            if row.gate == gate and row.estimator in (estimator, "any") and \
                    w in row.experts.lower():
                return row
    return None


def _exponent(spec, m: int) -> tuple[Fraction | None, str]:
    """Resolve a registry entry for a cell of size m: (exponent or None, symbolic note)."""
    if spec is None:
        return None, ""
    if isinstance(spec, tuple):
        kind, k = spec
        r = solvability_index(kind, m)
        sym = "r~" if kind == RTILDE else "r-bar"
        if r is None:
            return None, f"{sym}({m}) >= 7, unknown"
        return Fraction(r, k), f"{sym}({m}) = {r}"
    return Fraction(spec), ""


def _lookup(table: dict, block_name: str, role: str):
    for key in (block_name, {"gate": "gate", "expert": "eta", "variance": "nu"}.get(role), "*"):
        if key in table:
            return table[key]
    return None


def _rate_text(e: Fraction | None, note: str) -> tuple[str, str]:
    if e is None:
        if note:
            return f"n^-1/(2 {note.split(' ')[0]}), {note}", "polynomial, degree unknown (>= 14)"
        return ("slower than any polynomial, as slow as 1/log n",
                "exponential: about exp(1/eps) samples")
    q = 2 * e
    rate = f"n^-1/{q}" if q.denominator == 1 else f"n^-({q.denominator}/{q.numerator})"
    if note:
        rate = f"{rate} ({note})"
    return rate, f"polynomial: about eps^-{q} samples"


def predict(result: CheckResult, cell_sizes: Sequence[int] = (1, 2)) -> Prediction:
    """Predicted rates for every block of ``result.model`` and every cell size."""
    cells = parse_cells(cell_sizes)
    model = result.model
    gate = model.gate.name
    est = model.estimator.value
    cls, how = _expert_class(result)
    row = _find_row(gate, est, cls)
    match = how
    warnings: list[str] = []
    if row is None and cls not in ("degenerate", "unknown"):
        row = _find_row("softmax", est, cls) or _find_row("softmax", "lse", cls)
        if row is not None:
            match = f"{how}; extrapolated from the softmax row: no registry row for {gate}/{est}"
            warnings.append(f"no theorem in the registry for the {gate} gate with the {est} "
                            f"estimator; rates are the softmax row's, applied by verdict")
    if row is not None:
        provenance = f"{row.key}: {row.source}, {row.theorem} ({row.provenance})"
    elif cls == "degenerate":
        provenance = ("by verdict: a relation among first derivatives makes a direction "
                      "invisible; no polynomial rate (no registry row)")
    else:
        provenance = "no registry row and no certified verdict: no prediction"
    affine = affine_directions(model.expert) if est == "lse" else ()
    affine_names = {a.parameter for a in affine}
    rates: list[BlockRate] = []
    for block in model.blocks:
        for m in cells:
            if row is None:
                e, note = None, ""
                if cls == "unknown":
                    rates.append(BlockRate(block.name, block.role, m, None, "unknown",
                                           "unknown", "inconclusive verdict"))
                    continue
            else:
                table = row.exact if m == 1 else row.over
                if not table:
                    rates.append(BlockRate(block.name, block.role, m, None,
                                           "not stated by the source", "not stated", row.note))
                    continue
                e, note = _exponent(_lookup(table, block.name, block.role), m)
            rate, samples = _rate_text(e, note)
            extra = ""
            if m > 1 and {s.name for s in block.symbols} & affine_names:
                rate, samples = "no decay: not consistent (exact two-atom split)", "none suffice"
                extra = "affine direction, see the split proof"
            rates.append(BlockRate(block.name, block.role, m, e if not extra else None, rate,
                                   samples, extra or (row.note if row else "")))
    if affine and any(m > 1 for m in cells):
        warnings += [a.text for a in affine]
    if gate == "top-k":
        k = model.gate.options["k"]
        need = len(cells)
        fitted = sum(cells)
        ok = k >= need and model.gate.options["experts"] >= fitted
        warnings.append(
            f"top-K coverage (arXiv:2309.13850): each true atom's cell needs a selected expert "
            f"wherever that atom is active; with {need} cell(s) of sizes {list(cells)} "
            f"({fitted} fitted experts) and K = {k} of {model.gate.options['experts']} experts "
            f"this {'can hold' if ok else 'fails'} (K >= {need} and experts >= {fitted} needed)")
    return Prediction(row, match, provenance, tuple(rates), cells, affine, tuple(warnings))
