"""Results that display themselves: in a terminal, a notebook, a DataFrame.

Each result class takes its display methods from here with one line in its body, e.g.
``__repr__, __str__, _repr_html_, _repr_markdown_, to_frame, relations_frame = display.CHECK``:

- ``repr``: one line (model, verdict, rank), never the dataclass dump;
- ``str``: the command line's text (``identify check``, ``rates``, ``simulate``);
- ``_repr_html_`` / ``_repr_markdown_``: what a notebook cell shows, the same blocks as the
  HTML and Markdown reports (MathML or LaTeX for the relations);
- ``to_frame()``: a pandas DataFrame (a check's family and relations, a prediction's rates, a
  simulation's rows and slopes).

Nothing here computes anything new: every function renders what the result already holds.
"""

from __future__ import annotations

import math

__all__ = ["CHECK", "PREDICTION", "SIMULATION", "SlopeTable", "report_repr", "figure_svg"]


def _pandas():
    import pandas

    return pandas


def _html(blocks) -> str:
    from identify.report.printers import HtmlPrinter

    return '<div class="identify-result">' + HtmlPrinter({}).body(blocks) + "</div>"


def _markdown(blocks) -> str:
    from identify.report.printers import MarkdownPrinter

    return MarkdownPrinter({}).body(blocks)


def _model_text(model) -> str:
    return (f"{model.expert.name or model.expert.formula} | {model.gate.spec}, "
            f"{model.estimator.value}, d={model.dim}")


# -- CheckResult -------------------------------------------------------------------------

def check_repr(r) -> str:
    fam = r.family
    return (f"<CheckResult {_model_text(r.model)} | {r.verdict} | rank {fam.rank}/{fam.size}, "
            f"joint {fam.joint_rank}/{fam.atoms * fam.size} | {len(fam.relations)} relation(s), "
            f"{len(fam.zero_functions)} zero function(s)>")


def check_str(r) -> str:
    from identify.textout import format_check

    return format_check(r)


def _check_summary(r):
    from identify.report.document import Math, Para, Table
    from identify.report.mathfmt import relation_eq

    fam = r.family
    params = [s.name for s in r.model.parameters]
    head = Table(("model", "gate", "estimator", "verdict", "rank", "relations"), ((
        r.model.expert.name or r.model.expert.formula, r.model.gate.spec,
        r.model.estimator.value, str(r.verdict), f"{fam.rank}/{fam.size} per atom, "
        f"{fam.joint_rank}/{fam.atoms * fam.size} over {fam.atoms}", str(len(fam.relations))),))
    blocks = [head]
    for i, rel in enumerate(fam.relations, start=1):
        blocks += [Para((f"R{i} ({rel.kind}, proved by {rel.proof}):",)),
                   Math(relation_eq(rel, params))]
    blocks.append(Para((f"Because {r.reason}.",)))
    return blocks


def _check_blocks(r):
    from identify.report.document import Details, check_blocks

    return _check_summary(r) + [Details("The full derivation (as in the report)",
                                        tuple(check_blocks(r, level=4, graph=False)))]


def check_html(r) -> str:
    return _html(_check_blocks(r))


def check_markdown(r) -> str:
    return _markdown(_check_blocks(r))


def _statuses(r) -> dict[str, str]:
    fam = r.family
    rel_ids = {id(rel): f"R{i}" for i, rel in enumerate(fam.relations, start=1)}
    zero = {z.members[0].label for z in fam.zero_functions}
    unproved = {u.label for u in fam.unproved}
    out = {}
    for mem in fam.members:
        where = [rel_ids[id(rel)] for rel in fam.relations if mem in rel.members]
        out[mem.label] = ("zero" if mem.label in zero else "unproved dependence"
                          if mem.label in unproved else "in " + ", ".join(where) if where
                          else "independent")
    return out


def check_frame(r):
    """The derivative family as a DataFrame: one row per function d^alpha F."""
    status = _statuses(r)
    rows = [{"function": m.label, "order": m.order, "derivative": m.derivative,
             "status": status[m.label]} for m in r.family.members]
    frame = _pandas().DataFrame(rows, columns=["function", "order", "derivative", "status"])
    frame.index = range(1, len(rows) + 1)
    frame.index.name = "#"
    return frame


def check_relations_frame(r):
    """The relations (and zero functions) as a DataFrame: one row per proved identity."""
    rows = []
    fam = r.family
    for prefix, items in (("R", fam.relations), ("Z", fam.zero_functions)):
        for i, rel in enumerate(items, start=1):
            rows.append({"id": f"{prefix}{i}", "relation": rel.text, "kind": rel.kind,
                         "order": rel.order, "parameters": rel.parameters, "proof": rel.proof})
    frame = _pandas().DataFrame(
        rows, columns=["id", "relation", "kind", "order", "parameters", "proof"])
    return frame.set_index("id")


CHECK = (check_repr, check_str, check_html, check_markdown, check_frame, check_relations_frame)


# -- Prediction --------------------------------------------------------------------------

def prediction_repr(p) -> str:
    blocks = list(dict.fromkeys(r.block for r in p.rates))
    row = p.row.key if p.row else "no registry row"
    return (f"<Prediction {row} | blocks {', '.join(blocks)} | cells {list(p.cell_sizes)} | "
            f"{len(p.warnings)} warning(s)>")


def prediction_str(p) -> str:
    from identify.textout import format_prediction

    return format_prediction(p)


def prediction_html(p) -> str:
    from identify.report.measured import prediction_blocks

    return _html(prediction_blocks(p, level=4))


def prediction_markdown(p) -> str:
    from identify.report.measured import prediction_blocks

    return _markdown(prediction_blocks(p, level=4))


def prediction_frame(p):
    """One row per (block, cell size): the loss exponent e, the rate, the samples needed."""
    rows = [{"block": r.block, "role": r.role, "cell_size": r.cell_size,
             "exponent": None if r.exponent is None else float(r.exponent),
             "exponent_text": None if r.exponent is None else str(r.exponent),
             "rate": r.rate, "samples": r.samples, "note": r.note} for r in p.rates]
    return _pandas().DataFrame(rows, columns=["block", "role", "cell_size", "exponent",
                                              "exponent_text", "rate", "samples", "note"])


PREDICTION = (prediction_repr, prediction_str, prediction_html, prediction_markdown,
              prediction_frame)


# -- SimulationResult --------------------------------------------------------------------

class SlopeTable(tuple):
    """The slope fits of a sweep: a tuple of SlopeFit that also prints as the slope table
    and converts to a DataFrame (``result.slopes.to_frame()``)."""

    __slots__ = ()

    def to_frame(self):
        rows = [{"quantity": f.quantity, "fitted_k": f.fitted_k, "slope": _num(f.slope),
                 "ci_lower": _num(f.ci[0]), "ci_upper": _num(f.ci[1]),
                 "predicted": f.predicted, "verdict": f.verdict, "reason": f.reason,
                 "replicates": f.n_replicates, "sizes": len(f.points),
                 "best_decay_model": f.decay.best if f.decay else None} for f in self]
        return _pandas().DataFrame(rows, columns=[
            "quantity", "fitted_k", "slope", "ci_lower", "ci_upper", "predicted", "verdict",
            "reason", "replicates", "sizes", "best_decay_model"])

    def __str__(self) -> str:
        from identify.numeric.slopes import slope_table

        return slope_table(self)

    def _repr_html_(self) -> str:
        return self.to_frame()._repr_html_()


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def simulation_post_init(result) -> None:
    if not isinstance(result.slopes, SlopeTable):
        object.__setattr__(result, "slopes", SlopeTable(result.slopes))


def simulation_repr(result) -> str:
    m = result.spec.model
    counts = {v: sum(1 for f in result.slopes if f.verdict == v)
              for v in ("confirmed", "contradicted", "inconclusive")}
    verdict = next(iter(result.spec.predictions.values()), {}).get("verdict", "?")
    return (f"<SimulationResult {m['expert']} | {m['gate']}, {m['estimator']}, d={m['dim']} | "
            f"{verdict} | k={list(result.spec.fitted_ks)}, {len(result.rows)} fits "
            f"({result.failed} failed) | slopes: {counts['confirmed']} confirmed, "
            f"{counts['contradicted']} contradicted, {counts['inconclusive']} inconclusive>")


def simulation_str(result) -> str:
    from identify.textout import format_simulation

    return format_simulation(result)


def _section(result):
    from collections import Counter

    from identify.report.content import SimulationSection

    s = result.spec
    return SimulationSection("", s.sweep_id, s.truth, s.fitted_ks, s.ns, s.replicates, s.fit,
                             dict(Counter(r.get("status", "?") for r in result.rows)),
                             tuple(result.slopes))


def figure_svg(fig) -> str:
    """A matplotlib figure as inline SVG text (for HTML)."""
    import io

    import matplotlib

    from identify.numeric.plots import _SALT

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": _SALT}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def simulation_html(result) -> str:
    from identify.report.measured import simulation_blocks

    body = _html(simulation_blocks(_section(result), level=4, figures=False))
    svg = figure_svg(simulation_plot(result)) if any(f.points for f in result.slopes) else ""
    return body + (f'<figure style="max-width:100%">{svg}</figure>' if svg else "")


def simulation_markdown(result) -> str:
    from identify.report.measured import simulation_blocks

    return _markdown(simulation_blocks(_section(result), level=4, figures=False))


def simulation_frame(result):
    """One row per fit (task): k, n, replicate, status, the losses and block errors."""
    pandas = _pandas()
    rows = [{k: v for k, v in r.items() if k != "theta"} for r in result.rows]
    frame = pandas.json_normalize(rows, sep=".") if rows else pandas.DataFrame()
    return frame


def simulation_plot(result, ax=None):
    """The log-log figure of the slopes (one panel per kind of quantity; every series in
    ``ax`` when given). Returns the matplotlib figure."""
    from identify.numeric.plots import slopes_figure

    m = result.spec.model
    return slopes_figure(result.slopes, f"{m['expert']} ({m['gate']}, {m['estimator']}): "
                         "measured rates against n", ax=ax)


SIMULATION = (simulation_repr, simulation_str, simulation_html, simulation_markdown,
              simulation_frame, simulation_plot, simulation_post_init)


# -- Report ------------------------------------------------------------------------------

def report_repr(report) -> str:
    r = report.check
    fam = r.family
    sim = report.simulation
    measured = "no simulation" if sim is None else (
        f"{len(sim.slopes)} slopes, "
        f"{sum(1 for f in sim.slopes if f.verdict == 'confirmed')} confirmed")
    return (f"<Report {_model_text(r.model)} | {r.verdict} | rank {fam.rank}/{fam.size} | "
            f"{measured}>")
