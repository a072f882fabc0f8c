"""Predicted estimation rates, derived from the model: `predict` and its result.

For each parameter block and each cell size (1 = exact-fitted, m > 1 = over-fitted cell of
m atoms): the loss exponent e *derived* from the model's coefficient system
(theory/derive.py), the rate n^(-1/(2e)) as a formula, the samples needed for an error eps,
the proof, and beside it the registry row (theory.md section 5) as citation and
cross-check: agree / disagree / no row. The registry row is chosen by the derived verdict
and the formula (input-independent experts), never by a catalog name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from identify import display
from identify.errors import ConfigError
from identify.symbolic.check import CheckResult
from identify.symbolic.verdict import Verdict
from identify.theory.affine import AffineSplit, exact_splits, has_mixing_weight
from identify.theory.classify import derived_verdict
from identify.theory.derive import Derivation, derive
from identify.theory.registry import REGISTRY, RTILDE, RegistryRow, solvability_index

__all__ = ["BlockRate", "Prediction", "predict", "parse_cells", "derivation_for"]


@dataclass(frozen=True)
class BlockRate:
    """The predicted rate of one parameter block in cells of one size.

    ``exponent`` is the derived loss exponent (None: none proved); ``registry`` the
    registry row's exponent for the same block as text ("-" when the row states none);
    ``agreement`` is ``agree``, ``disagree`` or ``no row``.
    """

    block: str
    role: str
    cell_size: int
    exponent: Fraction | None
    rate: str
    samples: str
    note: str = ""
    proof: str = ""
    registry: str = ""
    agreement: str = "no row"
    certificate: str = ""  # the proof's kind in a few words (``proof`` has the whole of it)
    bounds: tuple | None = None  # no exponent, proved bounds (lo, hi) on it (None: unbounded)

    def to_dict(self) -> dict:
        return {"block": self.block, "role": self.role, "cell_size": self.cell_size,
                "exponent": None if self.exponent is None else str(self.exponent),
                "rate": self.rate, "samples": self.samples, "note": self.note,
                "proof": self.proof, "certificate": self.certificate,
                "registry": self.registry, "agreement": self.agreement,
                "bounds": None if self.bounds is None else
                [None if v is None else str(v) for v in self.bounds]}


@dataclass(frozen=True)
class Prediction:
    """Derived rates for every block and cell size, the derived verdict, the registry row."""

    row: RegistryRow | None
    match: str
    provenance: str
    rates: tuple[BlockRate, ...]
    cell_sizes: tuple[int, ...]
    affine: tuple[AffineSplit, ...]
    warnings: tuple[str, ...]
    verdict: Verdict = Verdict.INCONCLUSIVE
    verdict_reason: str = ""
    derivation: Derivation | None = field(default=None, compare=False)
    __repr__, __str__, _repr_html_, _repr_markdown_, to_frame = display.PREDICTION

    def to_dict(self) -> dict:
        return {"row": self.row.to_dict() if self.row else None, "match": self.match,
                "provenance": self.provenance, "cell_sizes": list(self.cell_sizes),
                "verdict": self.verdict.value, "verdict_reason": self.verdict_reason,
                "rates": [r.to_dict() for r in self.rates],
                "affine_directions": [a.to_dict() for a in self.affine],
                "derivation": self.derivation.to_dict() if self.derivation else None,
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


_CLASS_WORDS = {Verdict.STRONG: ("strongly identifiable", "ffn", "gaussian", "any"),
                Verdict.WEAK: ("linear", "polynomial", "weakly", "any"),
                "input-independent": ("input-independent", "any"),
                Verdict.FIRST_ORDER: ("any",), Verdict.NOT: ("any",), Verdict.INCONCLUSIVE: ()}


def _find_row(gate: str, estimator: str, cls) -> RegistryRow | None:
    for w in _CLASS_WORDS[cls]:
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
            return True, table[key]
    return False, None


def _rate_text(e: Fraction | None) -> tuple[str, str]:
    q = 2 * e
    rate = f"n^-1/{q}" if q.denominator == 1 else f"n^-({q.denominator}/{q.numerator})"
    return rate, f"polynomial: about eps^-{q} samples"


def _registry_cell(row: RegistryRow | None, block, m: int) -> tuple[str, Fraction | None, bool]:
    """(text, exponent, stated) of the registry row for a block and a cell size."""
    if row is None:
        return "", None, False
    table = row.exact if m == 1 else row.over
    found, spec = _lookup(table, block.name, block.role)
    if not found:
        return "not stated", None, False
    e, note = _exponent(spec, m)
    if e is None:
        return (f"n^-1/(2 r(m)), {note}" if note else "slower than polynomial"), None, bool(not note)
    return _rate_text(e)[0] + (f" ({note})" if note else ""), e, True


def _row_bound(row: RegistryRow, block, m: int) -> Fraction | None:
    """The lower bound on the exponent a row implies where its index is unknown (the
    papers' r(m) >= 7 for m >= 4): 7 / k for an entry r(m) / k, else None."""
    found, spec = _lookup(row.exact if m == 1 else row.over, block.name, block.role)
    if not found or not isinstance(spec, tuple) or solvability_index(spec[0], m) is not None:
        return None
    return Fraction(7, spec[1])


_CACHE: dict = {}


def _short_reason(proof: str) -> str:
    """The first clause of a "not derived" reason, for the one-line table."""
    text = proof.removeprefix("not derived: ").removeprefix("no expansion: ")
    return text.split(";")[0].split(" (")[0][:70]


def derivation_for(model, cells: Sequence[int], **options) -> Derivation:
    """The derivation of ``model`` for ``cells`` (always including 1 and 2), cached."""
    cells = tuple(sorted(set(cells) | {1, 2}))
    key = (model, cells, tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v)
                                      for k, v in options.items())))
    if key not in _CACHE:
        _CACHE[key] = derive(model, cells, **options)
    return _CACHE[key]


def _no_weight_reason(gate) -> str:
    """Why the cell argument does not apply to a gate without a mixing weight per atom."""
    return (f"not derived: the {gate.name} gate has no mixing weight per atom ({gate.weight}): "
            "m fitted atoms converging to one true atom theta* would contribute m F(theta*) "
            "where the truth has F(theta*) (for the normalised sigmoid, also m times the "
            "atom's share of the normaliser), so the cell's Taylor expansion at theta*, with "
            "weights w_i > 0 summing to w*, does not describe its over-fitted atoms; the papers "
            "treat these gates by regimes instead (some fitted gates vanishing, "
            "arXiv:2405.13997; beta1* = 0 or not, arXiv:2505.10860)")


def predict(result: CheckResult, cell_sizes: Sequence[int] = (1, 2), **options) -> Prediction:
    """Derived rates for every block of ``result.model`` and every cell size.

    ``options`` go to :func:`identify.theory.derive.derive` (``rlimit``, ``timeout``, ``budget``,
    ``max_level``, ``max_weight``).
    """
    cells = parse_cells(cell_sizes)
    model = result.model
    gate = model.gate.name
    est = model.estimator.value
    warnings: list[str] = []
    if has_mixing_weight(model.gate):
        derivation = derivation_for(model, cells, **options)
        verdict, reason = derived_verdict(derivation)
    else:
        derivation = None
        verdict, reason = Verdict.INCONCLUSIVE, _no_weight_reason(model.gate)
        warnings.append(reason)
    # the citation row: by the derived verdict, or (no derivation) by check's verdict
    derived_any = derivation is not None and derivation.expansion is not None
    decided = derived_any and verdict is not Verdict.INCONCLUSIVE
    cls = "input-independent" if model.expert.input_independent else (
        verdict if decided else result.verdict)
    row = _find_row(gate, est, cls)
    how = ("from the formula (no input appears)" if cls == "input-independent"
           else f"by the derived verdict ({verdict.value})" if decided
           else f"by check's verdict ({result.verdict.value}), as the derivation did not decide "
                "the verdict" if derived_any
           else f"by check's verdict ({result.verdict.value}), as nothing was derived")
    stand_in = derivation is None or derived_any  # not for a model nothing could be expanded of
    if row is None and stand_in and cls in (Verdict.STRONG, Verdict.WEAK, "input-independent"):
        row = _find_row("softmax", est, cls)  # never another estimator's row
        if row is not None:
            how += f"; the softmax row, as no row is for {gate}/{est}"
    match = f"registry row chosen {how}"
    provenance = ("derived from the model's coefficient system [D] (see the proof per block)"
                  + (f"; registry cross-check: {row.key}: {row.source}, {row.theorem} "
                     f"({row.provenance})" if row else "; no registry row to cross-check"))
    affine = exact_splits(model)
    affine_names = {n for a in affine for n in a.moved}
    rates: list[BlockRate] = []
    for block in model.blocks:
        for m in cells:
            be = cd = None
            if derivation is not None:
                cd = next((c for c in derivation.cells if c.cell_size == m), None)
                be = next((x for x in cd.exponents if x.block == block.name), None) if cd else None
            e = be.exponent if be else None
            proof = be.proof if be else reason
            reg_text, reg_e, stated = _registry_cell(row, block, m)
            kind = (be.kind if be else "") or "none"
            bounds = None
            if e is not None:
                rate, samples = _rate_text(e)
                note = ""
            elif m > 1 and {s.name for s in block.symbols} & affine_names:
                rate, samples = "no decay: not consistent (exact two-atom split)", "none suffice"
                note = "affine direction, see the split proof"
                kind = "exact two-atom split (proved identity)"
            elif be is not None and be.bounds and be.bounds[0] is not None:
                bounds = be.bounds
                slow = "?" if bounds[1] is None else _rate_text(bounds[1])[0]
                rate = f"between {slow} and {_rate_text(bounds[0])[0]} (bounded)"
                samples, note = "unknown", be.proof
            elif cd is not None and cd.status in ("no finite r", "partial"):
                rate, samples = "no polynomial rate proved", "unknown"
                note = be.proof if be else ""
            else:
                rate, samples, note = "not derived", "unknown", ""
                if not (be and be.kind):
                    kind = "none: " + _short_reason(proof)
            if row is None:
                agreement = "no row"
            elif rate == "not derived":
                agreement = "not derived"  # nothing to compare with the row
            elif bounds is not None and reg_e is not None:
                inside = bounds[0] <= reg_e and (bounds[1] is None or reg_e <= bounds[1])
                agreement = "within the bounds" if inside else "disagree"
            elif not stated and reg_e is None and reg_text in ("not stated", ""):
                agreement = "no row"
            elif not stated and reg_e is None and (bound := _row_bound(row, block, m)):
                # the row gives only r(m) >= 7 (value unknown): compare with that bound
                agreement = ("agree (the row's bound)" if e is not None and e >= bound
                             else "disagree")
            elif note.startswith("affine") and stated:
                agreement = "disagree"  # the split: no decay at all, not a slow decay
            elif reg_e == e or (reg_e is None and e is None and stated):
                agreement = "agree"
            else:
                agreement = "disagree"
            rates.append(BlockRate(block.name, block.role, m, e, rate, samples, note, proof,
                                   reg_text, agreement, kind, be.bounds if be else None))
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
    if derivation is not None:
        warnings += list(derivation.notes)
    return Prediction(row, match, provenance, tuple(rates), cells, affine, tuple(warnings),
                      verdict, reason, derivation)
