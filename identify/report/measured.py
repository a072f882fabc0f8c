"""The report's sections on rates: the prediction, the measurement, and the conclusion that
ties proof, prediction and measurement together in words."""

from __future__ import annotations

from fractions import Fraction

from identify.report.document import Figure, Heading, Para, RawMath, Table

__all__ = ["prediction_blocks", "simulation_blocks", "conclusion_blocks", "conclusion_parts",
           "rate_math", "fit_counts", "FIT_STATUSES",
           "SIMULATION_FIGURES"]

SIMULATION_FIGURES = {
    "rates": "Measured rates against n (log-log), one panel per kind of quantity: per-size "
             "means with bootstrap intervals, fitted lines, and each predicted slope as a "
             "labelled black reference line.",
}


def rate_math(exponent: Fraction) -> RawMath:
    """The rate n^(-1/(2e)) of loss exponent e, as math: ``n^{-1/4}``."""
    q = Fraction(1) / (2 * Fraction(exponent))
    text = f"{q.numerator}" if q.denominator == 1 else f"{q.numerator}/{q.denominator}"
    mathml = ('<math xmlns="http://www.w3.org/1998/Math/MathML"><msup><mi>n</mi><mrow><mo>-'
              f"</mo><mn>{q.numerator}</mn>"
              + (f"<mo>/</mo><mn>{q.denominator}</mn>" if q.denominator != 1 else "")
              + "</mrow></msup></math>")
    return RawMath(f"n^{{-{text}}}", mathml)


_GENERIC_RATE = RawMath("n^{-1/(2e)}", '<math xmlns="http://www.w3.org/1998/Math/MathML"><msup>'
                        "<mi>n</mi><mrow><mo>-</mo><mn>1</mn><mo>/</mo><mo>(</mo><mn>2</mn>"
                        "<mi>e</mi><mo>)</mo></mrow></msup></math>")


_EPS = RawMath(r"\varepsilon", '<math xmlns="http://www.w3.org/1998/Math/MathML"><mi>&#949;'
                                '</mi></math>')


def _eps_parts(text: str) -> list:
    """``about eps^-4 samples``, ``about exp(1/eps) samples`` with the formulas as math."""
    import re

    ml = '<math xmlns="http://www.w3.org/1998/Math/MathML">{}</math>'
    out: list = []
    for piece in re.split(r"(exp\(1/eps\)|eps\^-[0-9/]+|\beps\b)", text):
        power = re.fullmatch(r"eps\^-([0-9/]+)", piece)
        if power:
            q = power.group(1)
            out.append(RawMath(rf"\varepsilon^{{-{q}}}", ml.format(
                f"<msup><mi>&#949;</mi><mrow><mo>-</mo><mn>{q}</mn></mrow></msup>")))
        elif piece == "exp(1/eps)":
            out.append(RawMath(r"e^{1/\varepsilon}", ml.format(
                "<msup><mi>e</mi><mrow><mn>1</mn><mo>/</mo><mi>&#949;</mi></mrow></msup>")))
        elif piece == "eps":
            out.append(_EPS)
        elif piece:
            out.append(piece)
    return out


def _rate_cell(rate) -> tuple:
    """A table cell: the rate as math when it is a power of n, with any note as text."""
    if rate.exponent is None:
        return (rate.rate,)
    note = rate.rate.partition(" (")[2]
    return (rate_math(rate.exponent), f" ({note}" if note else "")


def prediction_blocks(p, level: int = 2) -> list:
    """The predicted rates: source, one row per block, one column per cell size."""
    doc: list = [Heading(level, "Predicted rates")]
    doc.append(Para((f"Source: {p.provenance}. {p.match[:1].upper()}{p.match[1:]}. Log factors "
                     "dropped; a block with loss exponent e converges like ", _GENERIC_RATE,
                     ".")))
    by_block: dict[str, dict[int, tuple]] = {}
    for rate in p.rates:
        by_block.setdefault(rate.block, {})[rate.cell_size] = _rate_cell(rate)
    doc.append(Table(("block", *[f"cell of {c}" + (" (exact)" if c == 1 else " (over-fitted)")
                                 for c in p.cell_sizes]),
                     tuple((b, *[cells[c] for c in p.cell_sizes])
                           for b, cells in by_block.items())))
    samples = sorted({x.samples for x in p.rates})
    parts: list = ["Samples needed for an error ", _EPS, ": "]
    for i, text in enumerate(samples):
        parts += ["; "] * bool(i) + _eps_parts(text)
    doc.append(Para((*parts, ".")))
    for w in p.warnings:
        doc.append(Para((f"Warning: {w}.",)))
    return doc


def _slope_rows(slopes) -> tuple:
    return tuple(
        (f.quantity, str(f.fitted_k), f"{f.slope:.3f}", f"[{f.ci[0]:.3f}, {f.ci[1]:.3f}]",
         "slower than any power" if f.predicted is None else f"{f.predicted:.3f}",
         f.verdict + (f" (best decay model: {f.decay.best})" if f.decay else ""))
        for f in slopes)


#: every fit status, in the order reports list them, with what it means
FIT_STATUSES = {"converged": "passed the gradient test, at least as good as the truth",
                "local": "passed the gradient test at a worse objective than the truth's",
                "budget": "stopped at the iteration cap",
                "failed": "an error or a stall"}


def fit_counts(sim) -> str:
    """``30 fits: 26 converged, 1 local, 2 budget, 1 failed; the slopes use the 26 converged
    fits, the 4 local, budget and failed ones are left out``."""
    counts = ", ".join(f"{sim.statuses.get(k, 0)} {k}" for k in FIT_STATUSES)
    extra = sorted(set(sim.statuses) - set(FIT_STATUSES))
    counts += "".join(f", {sim.statuses[k]} {k}" for k in extra)
    used = [k for k in (*FIT_STATUSES, *extra) if k in sim.used]
    out = [k for k in (*FIT_STATUSES, *extra) if k not in sim.used and sim.statuses.get(k, 0)]
    text = (f"{sim.tasks} fits: {counts}; the slopes use the {sim.entered} "
            f"{' and '.join(used)} fits")
    if out:
        left = sim.tasks - sim.entered
        names = ", ".join(out[:-1]) + (" and " if len(out) > 1 else "") + out[-1]
        text += f", the {left} {names} {'one is' if left == 1 else 'ones are'} left out"
    return text


def simulation_blocks(sim, notes=(), level: int = 2, figures: bool = True) -> list:
    """The measurement: the sweep, its fits' statuses, the slope table and the figure."""
    doc: list = [Heading(level, "Simulation")]
    if sim is None:
        why = "; ".join(notes) or "no results store was given (--store)"
        doc.append(Para((f"No measurement in this report: {why}. Run `identify simulate` and "
                         "pass its store to `identify report --store`.",)))
        return doc
    where = f"Store {sim.store}, sweep {sim.sweep}: " if sim.store else f"Sweep {sim.sweep}: "
    reps = (f"{sim.replicates} replicates" if sim.min_replicates in (None, sim.replicates)
            else f"{sim.min_replicates} to {sim.replicates} replicates per (k, n)")
    doc.append(Para((f"{where}truth '{sim.truth.get('name')}' "
                     f"with {len(sim.truth['atoms'])} atoms, fitted k = {list(sim.fitted_ks)}, "
                     f"n = {list(sim.ns)}, {reps}, initialisation "
                     f"{sim.fit.get('init')}. {fit_counts(sim)}.",)))
    if sim.others:
        doc.append(Para(("The store also holds " + "; ".join(sim.others) + ". They are not part "
                         "of this measurement.",)))
    doc.append(Table(("quantity", "k", "slope", "95% interval", "predicted", "verdict"),
                     _slope_rows(sim.slopes)))
    if figures:
        for name, caption in SIMULATION_FIGURES.items():
            if name in sim.figures:
                doc.append(Figure(name, caption))
    return doc


def _count(slopes, verdict: str) -> int:
    return sum(1 for f in slopes if f.verdict == verdict)


def conclusion_parts(report) -> list:
    """The chain in words: what was proved, what it predicts per block, what was measured,
    whether they agree. One paragraph (a str, or a tuple of parts with rates as math) per
    link."""
    r, p, sim = report.check, report.prediction, report.simulation
    fam = r.family
    rels = "; ".join(x.text for x in fam.relations) or "no relation"
    out = [f"Proved: the model is {r.verdict} (certified rank {fam.joint_rank} of "
           f"{fam.atoms * fam.size} over {fam.atoms} atoms; relations: {rels})."]
    parts: list = [f"Predicted ({p.row.key if p.row else 'no registry row'}): "]
    by_block: dict[str, list] = {}
    for rate in p.rates:
        kind = "exact-fitted" if rate.cell_size == 1 else f"over-fitted (cells of {rate.cell_size})"
        by_block.setdefault(rate.block, []).append((*_rate_cell(rate), f" {kind}"))
    for i, (block, cells) in enumerate(by_block.items()):
        parts.append(("; " if i else "") + f"{block}: ")
        for j, cell in enumerate(cells):
            parts += [", "] * bool(j) + list(cell)
    out.append(tuple([*parts, "."]))
    if sim is None:
        out.append("Measured: nothing (no simulation in this report), so the prediction is "
                   "not yet tested against data.")
        return out
    slopes = sim.slopes
    conf, contra, inc = (_count(slopes, v) for v in ("confirmed", "contradicted", "inconclusive"))
    out.append(f"Measured: {len(slopes)} slopes from the {sim.entered} "
               f"{' and '.join(sim.used)} of {sim.tasks} fits: "
               f"{conf} confirmed, {contra} contradicted, {inc} inconclusive.")
    if contra:
        bad = ", ".join(f"{f.quantity} (k = {f.fitted_k}, slope {f.slope:.2f} "
                        f"[{f.ci[0]:.2f}, {f.ci[1]:.2f}])" for f in slopes
                        if f.verdict == "contradicted")
        out.append(f"Agreement: no. The measurement contradicts the prediction for {bad}.")
    elif inc:
        out.append("Agreement: not decided. No slope contradicts the prediction, but "
                   f"{inc} of {len(slopes)} are inconclusive (too few sizes or too noisy); a "
                   "larger sweep is needed to confirm them.")
    elif conf:
        out.append(f"Agreement: yes. Every one of the {conf} measured slopes lies within its "
                   "prediction's interval.")
    return out


def conclusion_blocks(report, level: int = 2) -> list:
    return [Heading(level, "Conclusion"),
            *[Para(s if isinstance(s, tuple) else (s,)) for s in conclusion_parts(report)]]
