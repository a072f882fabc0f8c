"""Top-level entry points that are more than re-exports: :func:`report` and :func:`catalog`.

``identify.report(...)`` builds a derivation report from a check (or from a formula, checked
first) and returns the :class:`~identify.report.content.Report`; ``.write(folder)`` writes it.
``identify.catalog()`` lists what is built in (experts, gates with their options and
defaults, simulation presets) as an object that prints like ``identify catalog``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["report", "catalog", "Catalog", "gate_options"]


def report(result=None, gate: str = "softmax", *, store: str | None = None,
           cells: Sequence[int] = (1, 2), figure_dir: str | None = None,
           sweep: str | None = None, **check_options):
    """A derivation report: the proof, the prediction and (with ``store``) the measurement.

    Parameters
    ----------
    result:
        A :class:`~identify.symbolic.check.CheckResult`, or an expert formula (then
        ``check(result, gate, **check_options)`` runs first).
    store:
        A results store written by ``identify simulate`` for this model (optional).
    sweep:
        Which sweep of this model in ``store`` to analyse (its id); by default the one with
        the most stored tasks. The report lists what else the store holds.
    cells:
        Cell sizes of the prediction (1 = exact-fitted).
    figure_dir:
        Where the figures are written (a temporary folder by default).

    Returns
    -------
    Report
        Displays itself in a notebook; ``.write(folder)`` writes report.html, report.md,
        report.tex and the figures; ``.render("md")`` returns one format as a string.

    Examples
    --------
    >>> import identify
    >>> rep = identify.report("tanh(a*x + b)")  # doctest: +SKIP
    >>> rep.write("tanh-report")  # doctest: +SKIP
    """
    from identify.report.content import build_report
    from identify.symbolic.check import CheckResult, check

    if not isinstance(result, CheckResult):
        result = check(result, gate, **check_options)
    return build_report(result, store=store, cells=cells, figure_dir=figure_dir, sweep=sweep)


def gate_options(gate_cls) -> str:
    """A gate's options with their defaults, e.g. ``k=2,experts=4`` (empty: none)."""
    return ",".join(f"{k}={d}" for k, (_t, d) in gate_cls._options.items())


@dataclass(frozen=True)
class Catalog:
    """What is built in: expert formulas (in dimension ``dim``), gates, presets."""

    dim: int
    experts: tuple[dict, ...]
    gates: tuple[dict, ...]
    presets: tuple[dict, ...]

    def to_dict(self) -> dict:
        return {"experts": list(self.experts), "gates": list(self.gates),
                "presets": list(self.presets)}

    def to_frame(self, what: str = "experts"):
        """``experts``, ``gates`` or ``presets`` as a DataFrame."""
        import pandas

        from identify.errors import ConfigError

        if what not in ("experts", "gates", "presets"):
            raise ConfigError(f"Catalog.to_frame takes experts, gates or presets, got {what!r}",
                              where="what")
        return pandas.DataFrame(list(getattr(self, what))).set_index("name")

    def __str__(self) -> str:
        width = max(len(e["name"]) for e in self.experts)
        lines = [f"Experts (d = {self.dim}):"]
        lines += [f"  {e['name']:<{width}}  {e['formula']:<28}  {e['description']}"
                  for e in self.experts]
        lines.append("Gates (--gate NAME or NAME:key=value,...; options with their defaults):")
        for g in self.gates:
            opts = f":{g['options']}" if g["options"] else ""
            lines.append(f"  {g['name'] + opts:<{width}}  {g['summary']}  [{g['reference']}]")
        lines.append("Simulation presets (identify simulate --preset NAME):")
        lines += [f"  {p['name']:<{width}}  {p['source']}" for p in self.presets]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<Catalog d={self.dim} | {len(self.experts)} experts, {len(self.gates)} gates, "
                f"{len(self.presets)} presets>")

    def _repr_html_(self) -> str:
        return "".join(f"<h4>{what}</h4>" + self.to_frame(what).to_html()
                       for what in ("experts", "gates", "presets"))


def catalog(dim: int = 1) -> Catalog:
    """The built-in experts (formulas written out for input dimension ``dim``), the gates with
    their options and defaults, and the simulation presets."""
    from identify.model.catalog import CATALOG, catalog_formula
    from identify.model.gate import GATES
    from identify.numeric.truth import load_preset, preset_names

    experts = tuple({"name": n, "formula": catalog_formula(n, dim), "description": e.description}
                    for n, e in CATALOG.items())
    gates = tuple({"name": n, "options": gate_options(g), "summary": g.summary,
                   "reference": g.reference} for n, g in GATES.items())
    presets = tuple({"name": n, "source": load_preset(n)[1].source} for n in preset_names())
    return Catalog(dim, experts, gates, presets)
