"""What a report contains: the check, the prediction, and (optionally) the simulation."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field

from identify.errors import ConfigError
from identify.symbolic.check import CheckResult
from identify.theory.rates import Prediction, predict

__all__ = ["Report", "SimulationSection", "build_report", "load_simulation"]


@dataclass(frozen=True)
class SimulationSection:
    """A finished (or partial) sweep from a results store, analysed."""

    store: str
    sweep: str
    truth: dict
    fitted_ks: tuple[int, ...]
    ns: tuple[int, ...]
    replicates: int
    fit: dict
    statuses: dict[str, int]
    slopes: tuple  # SlopeFit
    figures: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (svg, png path)
    #: the fewest replicates of any (k, n) of the sweep (``replicates`` is the most)
    min_replicates: int | None = None
    #: what else the store holds, in words (other sweeps of this model, other models)
    others: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        return self.statuses.get("failed", 0)

    @property
    def used(self) -> tuple[str, ...]:
        """The fit statuses that enter the slopes (the analysis's choice: converged)."""
        return tuple(self.slopes[0].used) if self.slopes else ("converged",)

    @property
    def entered(self) -> int:
        """How many fits enter the slopes."""
        return sum(self.statuses.get(s, 0) for s in self.used)

    @property
    def tasks(self) -> int:
        return sum(self.statuses.values())


@dataclass(frozen=True, repr=False)
class Report:
    """Everything the printers render."""

    check: CheckResult
    prediction: Prediction
    simulation: SimulationSection | None
    figures: dict[str, tuple[str, str]]  # name -> (svg path, png path)
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        m = self.check.model
        return f"Identifiability of {m.expert.formula} under {m.gate.spec} gating"

    def write(self, folder: str) -> dict[str, str]:
        """Write report.html, report.md, report.tex and the figures into ``folder``; returns
        the paths by format."""
        from identify.report.write import write_report

        return write_report(self, folder)

    def render(self, fmt: str = "md") -> str:
        """The report as one string: ``html``, ``md`` or ``tex``."""
        from identify.report.write import render

        return render(self, fmt)

    def __repr__(self) -> str:
        from identify.display import report_repr

        return report_repr(self)

    def __str__(self) -> str:
        return self.render("md")

    def _repr_html_(self) -> str:
        from identify.report.write import render_fragment

        return render_fragment(self, "html")

    def _repr_markdown_(self) -> str:
        return self.render("md")


def _same_model(config: dict, check: CheckResult) -> bool:
    m = config.get("model", {})
    model = check.model
    return (m.get("expert", "").replace(" ", "") == model.expert.formula.replace(" ", "")
            and m.get("gate") == model.gate.spec and m.get("estimator") == model.estimator.value
            and m.get("dim") == model.dim)


def _sweep_config_ok(config: dict, path: str, sweep: str) -> bool:
    """A simulation sweep's config has these parts; anything else is a damaged store."""
    from identify.numeric.store import StoreError

    parts = {"model": dict, "truth": dict, "fit": dict, "predictions": dict}
    bad = [k for k, t in parts.items() if not isinstance(config.get(k), t)]
    if not bad and isinstance(config["truth"].get("atoms"), list):
        return True
    raise StoreError(f"damaged store: {path}: the config of sweep {sweep!r} has no valid "
                     f"{(bad or ['truth.atoms'])[0]!r}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _others(chosen: str, config: dict, counts: dict[str, int], same: dict[str, dict]
            ) -> tuple[str, ...]:
    """What the store holds besides the sweep ``chosen``, one phrase per kind."""
    out = []
    for sweep in sorted(same):
        if sweep == chosen:
            continue
        differs = sorted(k for k in set(config) | set(same[sweep])
                         if config.get(k) != same[sweep].get(k))
        how = (f"differs in {', '.join(differs)}" if differs
               else "the same settings with other fitted k")
        out.append(f"sweep {sweep} of this model ({_plural(counts.get(sweep, 0), 'task')}; "
                   f"{how}; `--sweep {sweep}` reports it)")
    foreign = [s for s in counts if s not in same]
    if foreign:
        out.append(f"{_plural(len(foreign), 'sweep')} of other models "
                   f"({_plural(sum(counts[s] for s in foreign), 'task')})")
    return tuple(out)


def load_simulation(store_path: str, check: CheckResult, figure_dir: str,
                    sweep: str | None = None) -> tuple[SimulationSection | None, str | None]:
    """One sweep of this model from the store, analysed; (None, why) when there is none.

    A sweep is one model, truth, fit settings and set of fitted k (its id); all its stored
    tasks are analysed, nothing of any other sweep. ``sweep`` names it; by default the
    sweep of this model with the most stored tasks (ties: the smallest id). What else the
    store holds is listed in :attr:`SimulationSection.others`."""
    from identify.numeric.plots import plot_slopes
    from identify.numeric.simulate import SimulationSpec, analyse
    from identify.numeric.store import ResultStore

    if not os.path.isfile(store_path):
        raise ConfigError(f"no results store at {store_path}", where="store")
    with ResultStore(store_path, readonly=True) as st:  # a report never writes to a store
        every = st.sweeps()
        counts = st.counts()
        sweeps = {s: c for s, c in every.items() if _sweep_config_ok(c, store_path, s)
                  and _same_model(c, check)}
        if sweep is not None and sweep not in sweeps:
            held = ", ".join(sorted(sweeps)) or "none"
            raise ConfigError(f"the store {store_path} holds no sweep {sweep!r:.40} of this "
                              f"model (its sweeps of this model: {held})", where="sweep")
        if not sweeps:
            return None, (f"the store {store_path} holds no sweep of this model (it has "
                          f"{_plural(len(every), 'sweep')} of other models)")
        if sweep is None:
            sweep = min(sweeps, key=lambda s: (-counts.get(s, 0), s))
        config = sweeps[sweep]
        rows = st.rows(sweep)
    others = _others(sweep, config, counts, sweeps)
    if not rows:
        return None, f"the sweep {sweep} in {store_path} has no finished task yet"
    ks = tuple(sorted({r["fitted_k"] for r in rows}))
    ns = tuple(sorted({r["n"] for r in rows}))
    per_cell = Counter((r["fitted_k"], r["n"]) for r in rows)
    reps = max(per_cell.values())
    fewest = min(per_cell.values()) if len(per_cell) == len(ks) * len(ns) else 0
    spec = SimulationSpec(config["model"], config["truth"], config["fit"], ks, ns, reps,
                          config["predictions"])
    slopes = analyse(spec, rows)
    figures = {"rates": plot_slopes(slopes, os.path.join(figure_dir, "rates"),
                                    f"{check.model.expert.formula} ({check.model.gate.spec}): "
                                    "measured rates against n")} if slopes else {}
    statuses = dict(Counter(r["status"] for r in rows))
    return SimulationSection(store_path, sweep, config["truth"], ks, ns, reps, config["fit"],
                             statuses, slopes, figures, fewest, others), None


def build_report(check: CheckResult, *, store: str | None = None, cells=(1, 2),
                 figure_dir: str | None = None, sweep: str | None = None) -> Report:
    """Gather the content of a report; figures are written to ``figure_dir``. With
    ``store``, one sweep of this model is analysed: ``sweep`` (its id), by default the one
    with the most stored tasks (see :func:`load_simulation`)."""
    from identify.symbolic.graph import plot_graph

    figure_dir = figure_dir or tempfile.mkdtemp(prefix="identify-report-")
    os.makedirs(figure_dir, exist_ok=True)
    prediction = predict(check, cells)
    figures = {}
    stem = os.path.join(figure_dir, "interaction-graph")
    figures["interaction-graph"] = (plot_graph(check.graph, stem + ".svg"),
                                    plot_graph(check.graph, stem + ".png"))
    notes: list[str] = []
    simulation = None
    if store is not None:
        simulation, why = load_simulation(store, check, figure_dir, sweep)
        if why:
            notes.append(why)
        if simulation is not None and simulation.others:
            notes.append(f"the store {store} also holds " + "; ".join(simulation.others)
                         + f"; the report analyses sweep {simulation.sweep} only")
    return Report(check, prediction, simulation, figures, tuple(notes))
