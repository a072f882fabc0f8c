"""`simulate`: confirm predicted rates by simulation.

One sweep = a model, a truth, fitted atom counts k, sample sizes n and replicates. Each
task (k, n, replicate) samples data with its own seed, fits, computes the Voronoi losses
and per-block errors, and becomes one row of the results store. The analysis regresses
log(mean loss) on log n per loss and per block and compares the slope with the theory's
prediction (``identify.theory.predict``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from identify import display
from identify.errors import ConfigError
from identify.model.model import Model, build_model
from identify.numeric.compile import NumericModel
from identify.numeric.experts import expert_errors, lipschitz, over_expert_exponent, regression_error
from identify.numeric.fit import FitSettings, check_init, fit, initial_points
from identify.numeric.slopes import DEFAULT_TOLERANCE, SlopeFit, fit_slope
from identify.numeric.store import ResultStore, check_store_path
from identify.numeric.sweep import Task, check_limits, make_tasks, parse_sizes, run_sweep
from identify.numeric.truth import (
    Truth,
    default_truth,
    load_preset,
    load_truth_file,
    sample_data,
)
from identify.numeric.voronoi import voronoi

__all__ = ["SimulationSpec", "SimulationResult", "simulation_task", "simulate", "analyse",
           "build_spec", "status_counts", "replicate_values", "simulate_plan"]


@dataclass(frozen=True)
class SimulationSpec:
    """Everything a sweep needs, as JSON-ready data (it travels to worker processes)."""

    model: dict
    truth: dict
    fit: dict
    fitted_ks: tuple[int, ...]
    ns: tuple[int, ...]
    replicates: int
    predictions: dict  # str(k) -> {"over": {block: exponent or None}, "exact": {...}}
    tolerance: float = DEFAULT_TOLERANCE  # the verdicts' band (analysis only: not in the id)

    def config(self) -> dict:
        return {"model": self.model, "truth": self.truth, "fit": self.fit,
                "predictions": self.predictions}

    @property
    def sweep_id(self) -> str:
        text = json.dumps({**self.config(), "ks": list(self.fitted_ks)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def tasks(self) -> list[Task]:
        return make_tasks(self.sweep_id, self.sweep_id, self.fitted_ks, self.ns, self.replicates)

    def to_dict(self) -> dict:
        return {**self.config(), "fitted_ks": list(self.fitted_ks), "ns": list(self.ns),
                "replicates": self.replicates, "tolerance": self.tolerance,
                "sweep": self.sweep_id}


def _model_of(d: dict) -> Model:
    return build_model(d["expert"], d["gate"], dim=d["dim"], estimator=d["estimator"])


def _model_dict(model: Model) -> dict:
    return {"expert": model.expert.formula, "gate": model.gate.spec, "dim": model.dim,
            "estimator": model.estimator.value}


def _exponents(model: Model, k_true: int, fitted_ks: Sequence[int]) -> dict:
    """Predicted exponents per block for each k (over-fitted cell size k - k* + 1)."""
    from identify.symbolic.check import check
    from identify.symbolic.verdict import Verdict
    from identify.theory.rates import predict

    result = check(model.expert, model.gate, dim=model.dim, estimator=model.estimator,
                   order=2, atoms=2)
    out = {}
    for k in fitted_ks:
        m = max(1, k - k_true + 1)
        pred = predict(result, (1, m) if m > 1 else (1,))
        blocks = {"exact": {}, "over": {}}
        not_derived = {"exact": {}, "over": {}}  # no claim at all, not "slower than polynomial"
        for r in pred.rates:
            key = "exact" if r.cell_size == 1 else "over"
            blocks[key][r.block] = None if r.exponent is None else float(r.exponent)
            if r.rate == "not derived":
                not_derived[key][r.block] = r.certificate.removeprefix("none: ") or r.rate
            elif r.exponent is None and r.bounds:
                # between two rates (a moving kink's piece bounds): no single prediction
                not_derived[key][r.block] = f"{r.certificate}, not derived"
        # the derived verdict (the same derivation as the exponents); check's literal
        # condition only where nothing was derived
        verdict = pred.verdict if pred.derivation is not None and \
            pred.verdict is not Verdict.INCONCLUSIVE else result.verdict
        out[str(k)] = {**blocks, "verdict": verdict.value, "source": pred.provenance}
        if not_derived["exact"] or not_derived["over"]:
            out[str(k)]["not_derived"] = not_derived
    return out


def build_spec(expert: str | None = None, gate: str = "softmax", *, preset: str | None = None,
               truth: str = "default", dim: int = 1, estimator: str = "lse",
               fitted_ks: Sequence[int] | None = None, ns: str | Sequence[int] | None = None,
               replicates: int | None = None, settings: FitSettings | None = None,
               tolerance: float | None = None) -> SimulationSpec:
    """Validate the inputs and assemble a :class:`SimulationSpec`.

    ``fitted_ks``, ``ns``, ``replicates`` and ``tolerance`` left at None take the preset's
    ``[sweep]`` values (keys ``fitted_k``, ``n``, ``replicates``, ``tolerance``), else
    (2, 3), ``"1e2:2e4:10"``, 10 and 0.1.
    """
    sweep: dict = {}
    if preset is not None:
        model, tr, sweep = load_preset(preset)
    elif truth != "default":  # the TOML file names its model
        model, tr, sweep = load_truth_file(truth)
        if expert is not None and expert.replace(" ", "") != model.expert.formula.replace(" ", ""):
            raise ConfigError(f"the truth file {truth} is for the expert "
                              f"{model.expert.formula!r}, not {expert!r}", where="truth")
    elif expert is None:
        raise ConfigError("give an expert formula, --truth FILE.toml or --preset NAME",
                          where="expert")
    else:
        model = build_model(expert, gate, dim=dim, estimator=estimator)
        tr = default_truth(model)
    fitted_ks = fitted_ks if fitted_ks is not None else sweep.get("fitted_k", (2, 3))
    ns = ns if ns is not None else sweep.get("n", "1e2:2e4:10")
    replicates = replicates if replicates is not None else sweep.get("replicates", 10)
    sizes = parse_sizes(ns) if isinstance(ns, str) else [int(n) for n in ns]
    if any(n < 10 for n in sizes):
        raise ConfigError("sample sizes must be at least 10", where="n")
    ks = tuple(int(k) for k in fitted_ks)
    if not ks or any(k < 1 for k in ks):
        raise ConfigError(f"fitted k must be integers >= 1, got {list(ks)}", where="fitted-k")
    if not isinstance(replicates, int) or replicates < 1:
        raise ConfigError(f"replicates must be an integer >= 1, got {replicates!r}", where="reps")
    check_limits(list(fitted_ks), sizes, replicates)  # before any allocation per k or n
    tolerance = tolerance if tolerance is not None else sweep.get("tolerance", DEFAULT_TOLERANCE)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or \
            not 0 < tolerance < 10:
        raise ConfigError(f"the tolerance must be a number in (0, 10), got {tolerance!r}",
                          where="tolerance")
    NumericModel(model, max(ks))  # refuses unsupported gates early
    if min(ks) < tr.k:
        raise ConfigError(f"fitted k = {min(ks)} is fewer than the truth's {tr.k} atoms: an "
                          "under-fitted model has no rate to predict (its error does not go to 0)",
                          where="fitted-k", hint=f"fit at least {tr.k} atoms")
    check_init((settings or FitSettings()).init, tr.k)
    predictions = _exponents(model, tr.k, ks)
    if "loss" in sweep:
        _paper_loss(predictions, sweep["loss"], model, tr.k)
    return SimulationSpec(_model_dict(model), tr.to_dict(), (settings or FitSettings()).to_dict(),
                          ks, tuple(sizes), replicates, predictions, float(tolerance))


def _paper_loss(predictions: dict, loss: dict, model: Model, k_true: int) -> None:
    """A preset's ``[sweep.loss]``: a paper's D2 exponents for the over-fitted cells whose
    rates identify did not derive (the loss is then the paper's; no rate is predicted)."""
    blocks = {b.name for b in model.blocks}
    exps = {str(b): float(e) for b, e in loss["over"].items()}
    if set(exps) != blocks:
        raise ConfigError(f"sweep.loss.over must give an exponent for every block "
                          f"({', '.join(sorted(blocks))}), got {', '.join(sorted(exps))}",
                          where="truth")
    for k, pred in predictions.items():
        if int(k) > k_true and pred.get("not_derived", {}).get("over"):
            pred["loss_over"] = exps
            pred["loss_source"] = str(loss["source"])


@lru_cache(maxsize=8)
def _context(config_json: str):
    config = json.loads(config_json)
    model = _model_of(config["model"])
    truth = Truth.from_dict(config["truth"])
    nm_true = NumericModel(model, truth.k)
    return config, model, truth, nm_true, truth.vector(nm_true)


def simulation_task(config: dict, task: Task) -> dict:
    """One task: sample with the task's seed, fit k atoms, measure losses. Returns a row.

    Every row carries the fit's status and certificate; losses, block errors and expert
    errors are measured for every fit that did not fail (the analysis decides which
    statuses enter the slopes)."""
    cfg, model, truth, nm_true, theta_true = _context(json.dumps(config, sort_keys=True))
    settings = FitSettings(**cfg["fit"])
    rng = np.random.default_rng(task.seed)
    X, y = sample_data(nm_true, truth, task.n, rng)
    nm = NumericModel(model, task.fitted_k)
    starts = initial_points(nm, nm_true, theta_true, task.n, rng, settings)
    result = fit(nm, X, y, starts, settings, scale=float(np.max(np.abs(theta_true), initial=1.0)),
                 truth=(nm_true, theta_true))
    row = {**task.fields(), **result.to_dict(), "losses": {}, "block_errors": {},
           "expert_errors": {}}
    if result.status == "failed":
        return row
    pred = cfg["predictions"].get(str(task.fitted_k), {})
    over = pred.get("loss_over") or pred.get("over", {})  # D2's exponents: derived, or a paper's
    vor = voronoi(nm, result.theta, nm_true, theta_true, over_exponents=over,
                  inputs=truth.inputs)
    row.update(vor.to_dict())
    if not nm.density:
        ee = expert_errors(nm, result.theta, nm_true, theta_true, truth.inputs,
                           over_expert_exponent(over, nm))
        row["expert_errors"] = {**ee.losses, **ee.cells}
        row["regression"] = {"L2": regression_error(nm, result.theta, nm_true, theta_true,
                                                    truth.inputs)}
    row["theta"] = [float(v) for v in result.theta]
    return row


@dataclass(frozen=True)
class SimulationResult:
    """Rows of a sweep, the slope analysis and why the sweep stopped.

    ``stopped`` is "planned" for a fixed sweep; with ``until_width`` it says which of the
    width, the fit budget or the time budget ended the rounds."""

    spec: SimulationSpec
    rows: tuple[dict, ...]
    slopes: tuple[SlopeFit, ...]
    stopped: str = "planned"
    rounds: int = 1
    __repr__, __str__, _repr_html_, _repr_markdown_, to_frame, plot, __post_init__ = display.SIMULATION

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if r.get("status") == "failed")

    @property
    def statuses(self) -> dict[str, int]:
        """How many fits ended with each status (converged, budget, local, failed)."""
        return status_counts(self.rows)

    @property
    def expert_slopes(self) -> tuple[SlopeFit, ...]:
        """The slopes of the expert errors (quantities ``expert ...``)."""
        return tuple(s for s in self.slopes if s.quantity.startswith("expert"))

    def to_dict(self) -> dict:
        return {"spec": self.spec.to_dict(), "tasks": len(self.rows), "failed": self.failed,
                "statuses": self.statuses, "stopped": self.stopped, "rounds": self.rounds,
                "slopes": [s.to_dict() for s in self.slopes]}


def status_counts(rows: Sequence[dict]) -> dict[str, int]:
    """Fits per status, every status of the fit certificate listed (0 when absent)."""
    counts = dict.fromkeys(("converged", "budget", "local", "failed"), 0)
    for r in rows:
        s = str(r.get("status"))
        counts[s] = counts.get(s, 0) + 1
    return counts


def _predicted_slope(exponent: float | None) -> float | None:
    return None if exponent is None else -1.0 / (2.0 * exponent)


def _quantities(spec: SimulationSpec, k: int, sub: list[dict], lipschitz_note: str
                ) -> list[tuple[str, str, str, float | None, str | None]]:
    """(label, row field, key, predicted slope, no-prediction reason) for fitted k."""
    k_true = len(spec.truth["atoms"])
    pred = spec.predictions.get(str(k), {})
    over = pred.get("over", {})
    nd = pred.get("not_derived", {})
    nd_exact, nd_over = nd.get("exact", {}), nd.get("over", {})
    poly = bool(over) and all(v is not None for v in over.values())
    out: list[tuple[str, str, str, float | None, str | None]] = []
    if k <= k_true:
        out.append(("D1", "losses", "D1", None if nd_exact else -0.5, _not_derived(nd_exact)))
    elif nd_over:  # nothing derived for the over-fitted cell: no claim on its loss
        if pred.get("loss_over"):
            out.append(("D2", "losses", "D2", None, _not_derived(nd_over) +
                        f"; D2 has the exponents of {pred.get('loss_source', 'the preset')}"))
        out.append(("D1", "losses", "D1", None, _not_derived(nd_over)))
    elif poly:
        out.append(("D2", "losses", "D2", -0.5, None))
    else:  # some block slower than any polynomial: D2 undefined, D1 decays slowly
        out.append(("D1", "losses", "D1", None, None))
    for name in sorted({b for r in sub for b in r.get("block_errors", {})}):
        kind, block = name.split(":", 1)
        e = pred.get("exact", {}).get(block, 1.0) if kind == "exact" else over.get(block)
        if kind == "shared":
            e = pred.get("exact", {}).get(block)
        missing = (nd_over if kind == "over" else nd_exact).get(block)
        out.append((f"block {name}", "block_errors", name, _predicted_slope(e),
                    _not_derived({block: missing}) if missing else None))
    keys = {b for r in sub for b in r.get("expert_errors", {})}
    eb = _expert_blocks(spec) if keys else set()
    expert_blocks = [v for b, v in over.items() if b in eb]
    e_over = None if not expert_blocks or any(v is None for v in expert_blocks) else \
        max(expert_blocks)
    for key in ("L2", "sup", "over:L2", "over:sup"):  # exact cells: in the weighted loss
        if key not in keys:
            continue
        missing = {b: v for b, v in (nd_over if key.startswith("over:") else nd_exact).items()
                   if b in eb}
        slope = None if missing else _predicted_slope(e_over) if key.startswith("over:") else -0.5
        out.append((f"expert {key}", "expert_errors", key, slope,
                    _not_derived(missing) or lipschitz_note or None))
    if any("L2" in r.get("regression", {}) for r in sub):  # parametric at every fitted k
        out.append(("regression L2", "regression", "L2", -0.5, None))
    return out


def _not_derived(blocks: dict) -> str | None:
    """The no-prediction reason for quantities resting on blocks that were not derived."""
    if not blocks:
        return None
    reasons = sorted(set(blocks.values()))
    return (f"the rate of {', '.join(sorted(blocks))} was not derived "
            f"({'; '.join(reasons)})")


def _expert_blocks(spec: SimulationSpec) -> set[str]:
    model = _model_of(spec.model)
    nm = NumericModel(model, len(spec.truth["atoms"]))
    return {nm.block_of.get(s.name, s.name) for s in nm.expert_syms}


def replicate_values(rows: Sequence[dict], ns: Sequence[int], field: str, key: str,
                     include: Sequence[str] = ("converged",)) -> list[list[float]]:
    """``values[i][r]``: replicate r's ``row[field][key]`` at ``ns[i]`` (NaN when the fit's
    status is not in ``include`` or the value is missing), rows of one fitted k."""
    values = []
    for n in ns:
        src = [r for r in rows if r["n"] == n]
        width = max([int(r.get("replicate", 0)) for r in src], default=-1) + 1
        vals = [math.nan] * width
        for r in src:
            if r.get("status") in include:
                v = r.get(field, {}).get(key)
                vals[int(r.get("replicate", 0))] = math.nan if v is None else float(v)
        values.append(vals)
    return values


def analyse(spec: SimulationSpec, rows: Sequence[dict], *, n_boot: int = 2000,
            tolerance: float | None = None, include: Sequence[str] = ("converged",)
            ) -> tuple[SlopeFit, ...]:
    """Slopes of the losses, per-block errors and expert errors against n, judged against
    the prediction within ``tolerance`` (default: the spec's).

    Only fits whose status is in ``include`` (default: converged) enter a slope; every
    quantity records how many fits of each status it saw. Losses: D1 for exact fits
    (k = k*), D2 (the predicted exponents per block) for over-fitted k, predicted -1/2; when
    an over-fitted exponent is slower than any polynomial, D1 against "slow". Blocks:
    exact-cell errors against -1/2, over-specified-cell errors against -1/(2 e). Experts:
    the weighted L2 and sup losses against -1/2, the over-specified cells' weighted
    (power-mean) distance against -1/(2 e) for the largest expert-block exponent e (no prediction where
    h is not shown Lipschitz in its parameters). The regression function's L2 error
    (least squares) against -1/2 at every fitted k (`identify.numeric.experts`).
    """
    tol = spec.tolerance if tolerance is None else tolerance
    lip = lipschitz(NumericModel(_model_of(spec.model), 1))
    fits: list[SlopeFit] = []
    for k in spec.fitted_ks:
        sub = [r for r in rows if r["fitted_k"] == k]
        counts = status_counts(sub)
        counts = {s: c for s, c in counts.items() if c}
        for label, field, key, predicted, why in _quantities(spec, k, sub, lip):
            values = replicate_values(sub, spec.ns, field, key, include)
            fits.append(fit_slope(list(spec.ns), values, predicted, quantity=label,
                                  fitted_k=k, n_boot=n_boot, seed=k, tolerance=tol,
                                  statuses=counts, used=tuple(include), no_prediction=why))
    return tuple(fits)


def simulate_plan(spec: SimulationSpec, plan: dict[int, tuple[Sequence[int], int]], *,
                  store: str, workers: int = 1, scheduler: str | None = None,
                  progress: bool | str = True) -> SimulationResult:
    """One sweep with its own sizes and replicates per fitted k: ``plan[k] = (ns, reps)``.

    The tasks keep the seeds of an ordinary sweep of ``spec`` (replicate r at (k, n) has the
    same seed), so a plan and a plain sweep share rows; the result's spec lists the union
    of the sizes and the largest replicate count (sizes a k did not run are left out of
    its slopes)."""
    import dataclasses

    check_store_path(store)
    if set(plan) != set(spec.fitted_ks):
        raise ConfigError(f"the plan covers k = {sorted(plan)}, the spec {list(spec.fitted_ks)}",
                          where="plan")
    tasks = [t for k, (ns, reps) in sorted(plan.items())
             for t in make_tasks(spec.sweep_id, spec.sweep_id, (k,), ns, reps)]
    full = dataclasses.replace(spec, ns=tuple(sorted({int(n) for ns, _ in plan.values()
                                                      for n in ns})),
                               replicates=max(reps for _, reps in plan.values()))
    with ResultStore(store) as st:
        rows = run_sweep(simulation_task, full.config(), tasks, st, workers=workers,
                         scheduler=scheduler, progress=progress)
    return SimulationResult(full, tuple(rows), analyse(full, rows))


def simulate(expert: str | None = None, gate: str = "softmax", *, store: str,
             workers: int = 1, scheduler: str | None = None, progress: bool | str = True,
             until_width: float | None = None, max_fits: int | None = None,
             max_seconds: float | None = None, **spec_kwargs) -> SimulationResult:
    """Run (or resume) a sweep into the SQLite ``store`` and analyse it.

    With ``until_width`` the sweep runs in rounds: each round adds the spec's number of
    replicates (replicate r keeps its seed whatever the round, so a resumed or re-run sweep
    computes nothing twice) until every predicted slope's interval is narrower than
    ``until_width``, or ``max_fits`` fits are stored, or ``max_seconds`` have passed;
    ``SimulationResult.stopped`` says which.

    Examples
    --------
    >>> r = simulate("tanh(a*x+b)", store="results.sqlite", ns=[100, 300, 1000],
    ...              replicates=3, progress=False)  # doctest: +SKIP
    """
    import dataclasses
    import time

    check_store_path(store)  # a file that is not an identify store: refused before any work
    spec = build_spec(expert, gate, **spec_kwargs)
    if until_width is None:
        with ResultStore(store) as st:
            rows = run_sweep(simulation_task, spec.config(), spec.tasks(), st, workers=workers,
                             scheduler=scheduler, progress=progress)
        return SimulationResult(spec, tuple(rows), analyse(spec, rows))
    if not isinstance(until_width, int | float) or not until_width > 0:
        raise ConfigError(f"--until-width must be a positive number, got {until_width!r}",
                          where="until-width")
    if max_fits is not None and max_fits < 1:
        raise ConfigError(f"--max-fits must be >= 1, got {max_fits}", where="max-fits")
    t0, step, rounds = time.monotonic(), spec.replicates, 0
    per_round = len(spec.fitted_ks) * len(spec.ns) * step
    current = spec
    while True:
        rounds += 1
        with ResultStore(store) as st:
            rows = run_sweep(simulation_task, current.config(), current.tasks(), st,
                             workers=workers, scheduler=scheduler, progress=progress)
        slopes = analyse(current, rows)
        target = [f for f in slopes if f.predicted is not None and not f.predicted_note]
        widths = [f.ci[1] - f.ci[0] for f in target]
        if target and all(math.isfinite(w) and w < until_width for w in widths):
            stopped = f"width: every predicted slope's interval is narrower than {until_width:g}"
            break
        if max_fits is not None and len(rows) + per_round > max_fits:
            stopped = f"fit budget: {len(rows)} fits stored, the next round would pass {max_fits}"
            break
        if max_seconds is not None and time.monotonic() - t0 >= max_seconds:
            stopped = f"time budget: {time.monotonic() - t0:.0f} s of {max_seconds:g} s spent"
            break
        current = dataclasses.replace(current, replicates=current.replicates + step)
    return SimulationResult(current, tuple(rows), slopes, stopped, rounds)
