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
from identify.numeric.fit import FitSettings, check_init, fit, initial_points
from identify.numeric.slopes import SlopeFit, fit_slope
from identify.numeric.store import ResultStore
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
           "build_spec"]


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
                "replicates": self.replicates, "sweep": self.sweep_id}


def _model_of(d: dict) -> Model:
    return build_model(d["expert"], d["gate"], dim=d["dim"], estimator=d["estimator"])


def _model_dict(model: Model) -> dict:
    return {"expert": model.expert.formula, "gate": model.gate.spec, "dim": model.dim,
            "estimator": model.estimator.value}


def _exponents(model: Model, k_true: int, fitted_ks: Sequence[int]) -> dict:
    """Predicted exponents per block for each k (over-fitted cell size k - k* + 1)."""
    from identify.symbolic.check import check
    from identify.theory.rates import predict

    result = check(model.expert, model.gate, dim=model.dim, estimator=model.estimator,
                   order=2, atoms=2)
    out = {}
    for k in fitted_ks:
        m = max(1, k - k_true + 1)
        pred = predict(result, (1, m) if m > 1 else (1,))
        blocks = {"exact": {}, "over": {}}
        for r in pred.rates:
            key = "exact" if r.cell_size == 1 else "over"
            blocks[key][r.block] = None if r.exponent is None else float(r.exponent)
        out[str(k)] = {**blocks, "verdict": result.verdict.value, "source": pred.provenance}
    return out


def build_spec(expert: str | None = None, gate: str = "softmax", *, preset: str | None = None,
               truth: str = "default", dim: int = 1, estimator: str = "lse",
               fitted_ks: Sequence[int] | None = None, ns: str | Sequence[int] | None = None,
               replicates: int | None = None, settings: FitSettings | None = None
               ) -> SimulationSpec:
    """Validate the inputs and assemble a :class:`SimulationSpec`.

    ``fitted_ks``, ``ns`` and ``replicates`` left at None take the preset's ``[sweep]``
    values, else (2, 3), ``"1e2:2e4:10"`` and 10.
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
    NumericModel(model, max(ks))  # refuses unsupported gates early
    check_init((settings or FitSettings()).init, tr.k)
    return SimulationSpec(_model_dict(model), tr.to_dict(), (settings or FitSettings()).to_dict(),
                          ks, tuple(sizes), replicates, _exponents(model, tr.k, ks))


@lru_cache(maxsize=8)
def _context(config_json: str):
    config = json.loads(config_json)
    model = _model_of(config["model"])
    truth = Truth.from_dict(config["truth"])
    nm_true = NumericModel(model, truth.k)
    return config, model, truth, nm_true, truth.vector(nm_true)


def simulation_task(config: dict, task: Task) -> dict:
    """One task: sample with the task's seed, fit k atoms, measure losses. Returns a row."""
    cfg, model, truth, nm_true, theta_true = _context(json.dumps(config, sort_keys=True))
    settings = FitSettings(**cfg["fit"])
    rng = np.random.default_rng(task.seed)
    X, y = sample_data(nm_true, truth, task.n, rng)
    nm = NumericModel(model, task.fitted_k)
    starts = initial_points(nm, nm_true, theta_true, task.n, rng, settings)
    result = fit(nm, X, y, starts, settings, scale=float(np.max(np.abs(theta_true), initial=1.0)),
                 truth=(nm_true, theta_true))
    row = {**task.fields(), **result.to_dict(), "losses": {}, "block_errors": {}}
    if result.status == "failed":
        return row
    over = cfg["predictions"].get(str(task.fitted_k), {}).get("over", {})
    vor = voronoi(nm, result.theta, nm_true, theta_true, over_exponents=over)
    row.update(vor.to_dict())
    row["theta"] = [float(v) for v in result.theta]
    return row


@dataclass(frozen=True)
class SimulationResult:
    """Rows of a sweep and the slope analysis."""

    spec: SimulationSpec
    rows: tuple[dict, ...]
    slopes: tuple[SlopeFit, ...]
    __repr__, __str__, _repr_html_, _repr_markdown_, to_frame, plot, __post_init__ = display.SIMULATION

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if r.get("status") == "failed")

    def to_dict(self) -> dict:
        return {"spec": self.spec.to_dict(), "tasks": len(self.rows), "failed": self.failed,
                "slopes": [s.to_dict() for s in self.slopes]}


def _predicted_slope(exponent: float | None) -> float | None:
    return None if exponent is None else -1.0 / (2.0 * exponent)


def analyse(spec: SimulationSpec, rows: Sequence[dict], *, n_boot: int = 2000
            ) -> tuple[SlopeFit, ...]:
    """Slopes of the losses and per-block errors against n, compared with the prediction.

    Losses: D1 for exact fits (k = k*), D2 and Dpred for over-fitted k (predicted -1/2 when
    every over-fitted exponent is polynomial, else "slower than any polynomial").
    Blocks: exact-cell errors against -1/2, over-specified-cell errors against -1/(2 e).
    """
    k_true = len(spec.truth["atoms"])
    fits: list[SlopeFit] = []
    for k in spec.fitted_ks:
        sub = [r for r in rows if r["fitted_k"] == k]
        pred = spec.predictions.get(str(k), {})
        over = pred.get("over", {})
        slow = any(v is None for v in over.values())
        quantities: list[tuple[str, str, float | None]] = []
        if k <= k_true:
            quantities.append(("D1", "loss", -0.5))
        else:
            quantities.append(("D2", "loss", None if slow else -0.5))
            if all(v is not None for v in over.values()) and \
                    any(r.get("losses", {}).get("Dpred") is not None for r in sub):
                quantities.append(("Dpred", "loss", -0.5))
        names = sorted({b for r in sub for b in r.get("block_errors", {})})
        for name in names:
            kind, block = name.split(":", 1)
            e = pred.get("exact", {}).get(block, 1.0) if kind == "exact" else over.get(block)
            if kind == "shared":
                e = pred.get("exact", {}).get(block)
            quantities.append((name, "block", _predicted_slope(e)))
        for name, kind, predicted in quantities:
            values = []
            for n in spec.ns:
                src = [r for r in sub if r["n"] == n]
                field = "losses" if kind == "loss" else "block_errors"
                values.append([r.get(field, {}).get(name, math.nan) for r in src])
            label = name if kind == "loss" else f"block {name}"
            fits.append(fit_slope(list(spec.ns), values, predicted, quantity=label, fitted_k=k,
                                  n_boot=n_boot, seed=k))
    return tuple(fits)


def simulate(expert: str | None = None, gate: str = "softmax", *, store: str,
             workers: int = 1, scheduler: str | None = None, progress: bool = True,
             **spec_kwargs) -> SimulationResult:
    """Run (or resume) a sweep into the SQLite ``store`` and analyse it.

    Examples
    --------
    >>> r = simulate("tanh(a*x+b)", store="results.sqlite", ns=[100, 300, 1000],
    ...              replicates=3, progress=False)  # doctest: +SKIP
    """
    spec = build_spec(expert, gate, **spec_kwargs)
    with ResultStore(store) as st:
        rows = run_sweep(simulation_task, spec.config(), spec.tasks(), st, workers=workers,
                         scheduler=scheduler, progress=progress)
    return SimulationResult(spec, tuple(rows), analyse(spec, rows))
