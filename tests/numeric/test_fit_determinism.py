"""Least-squares fits are bitwise reproducible: they do not depend on where numpy's arrays
happen to lie in memory (MINPACK's Levenberg-Marquardt did: the same task gave 420, 441 or 443
residual evaluations and different optima in processes that had allocated differently)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import identify
from identify.numeric.compile import NumericModel
from identify.numeric.fit import FitSettings, fit, initial_points
from identify.numeric.simulate import _context, build_spec
from identify.numeric.truth import sample_data

# one process: allocate a pattern of arrays (which moves every later allocation), then run
# the sweep's own task function on over-fitted tasks (k = 3 fitted to k* = 2)
_CHILD = """
import json, sys
import numpy as np
import pytest
from identify.numeric.fit import FitSettings
from identify.numeric.simulate import build_spec, simulation_task
pattern = int(sys.argv[1])
keep = [np.empty(1 + (37 * pattern + 11 * j) % 97) for j in range(3 + 4 * pattern)]
out = {}
for gate in ("softmax", "laplace"):
    spec = build_spec("tanh(a*x+b)", gate, fitted_ks=(3,), ns=[1000], replicates=2,
                      settings=FitSettings())
    for t in spec.tasks():
        keep.append(np.empty(1 + (13 * pattern + len(keep)) % 61))
        row = simulation_task(spec.config(), t)
        out[f"{gate}/{t.seed}"] = {
            "status": row["status"], "iterations": row["iterations"],
            "objective": row["objective"].hex(), "grad_norm": row["grad_norm"].hex(),
            "theta": np.array(row.get("theta", [])).tobytes().hex(),
            "truth_objective": row["truth_objective"]}
print(json.dumps(out))
"""


def test_the_same_tasks_in_processes_with_different_allocations_give_identical_bits():
    root = str(Path(identify.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(p)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for p in range(3)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr
        outs.append(json.loads(stdout))
    assert len(outs[0]) == 4
    assert outs[1] == outs[0] and outs[2] == outs[0]
    # the fits are real: most of them pass the gradient test (at the Laplace gate's kinks, the
    # kink certificate) at least as well as the truth; every softmax one does, and a Laplace
    # one that does not is an honest "budget" at an objective below the truth's
    rows = outs[0].values()
    assert sum(r["status"] == "converged" for r in rows) >= 3
    assert all(r["status"] == "converged" for k, r in outs[0].items() if k.startswith("softmax"))
    for k, r in outs[0].items():
        if k.startswith("laplace"):
            assert r["status"] in ("converged", "budget") and \
                float.fromhex(r["objective"]) <= r["truth_objective"], (k, r["status"])
    for r in rows:
        if r["status"] == "converged":
            assert len(r["theta"]) > 0 and float.fromhex(r["objective"]) <= r["truth_objective"]
            assert float.fromhex(r["grad_norm"]) <= FitSettings().grad_tol


def _at(a: np.ndarray, off: int) -> np.ndarray:
    """A copy of ``a`` whose data start ``8 * off`` bytes past a 64-byte boundary."""
    buf = np.empty(a.size + 8)
    s = (off - buf.ctypes.data // 8) % 8
    out = buf[s:s + a.size].reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % 64 == 8 * off
    return out


class _Shifted:
    """A model whose predictions and Jacobians come back at a given alignment."""

    def __init__(self, nm: NumericModel, off: int):
        self._nm, self._off = nm, off

    def __getattr__(self, name):
        return getattr(self._nm, name)

    def predict(self, X, th):
        return _at(self._nm.predict(X, th), self._off)

    def jacobian(self, X, th):
        return _at(self._nm.jacobian(X, th), self._off)


@pytest.mark.parametrize("gate, sizes, replicates, pick, path", [
    # first found in a sweep (Laplace gate): with MINPACK's LM the 8 offsets gave 3 different
    # fits (155 or 163 residual evaluations, two optima). Task seeds follow the sweep id, which
    # changes with the predictions (it did twice: when "not derived" was recorded, and when the
    # exact cell under the Laplace gate was derived), so the pick is a fixed data seed (n =
    # 100) whose best start ends in the bounded method after LM left the compact box
    ("laplace", [100, 1000], 2, 8, "trf"),
    # softmax, n = 100: likewise (scipy's trf, on one BLAS thread), then the Newton polish
    ("softmax", [100, 1000, 5000], 3, (3, 100, 1), "trf")])
def test_the_least_squares_fit_does_not_depend_on_the_arrays_alignment(gate, sizes, replicates,
                                                                        pick, path):
    spec = build_spec("tanh(a*x+b)", gate, fitted_ks=(2, 3), ns=sizes, replicates=replicates,
                      settings=FitSettings())
    cfg, model, truth, nm_true, tt = _context(json.dumps(spec.config(), sort_keys=True))
    if isinstance(pick, int):  # a fixed data seed, n = 100
        seed, n = pick, 100
    else:
        task = next(t for t in spec.tasks() if (t.fitted_k, t.n, t.replicate) == pick)
        seed, n = task.seed, task.n
    rng = np.random.default_rng(seed)
    X, y = sample_data(nm_true, truth, n, rng)
    nm = NumericModel(model, 3)
    settings = FitSettings(**cfg["fit"])
    starts = initial_points(nm, nm_true, tt, n, rng, settings)
    scale = float(np.max(np.abs(tt)))
    runs = []
    for off in range(8):  # predictions and Jacobians at each offset modulo 64 bytes
        res = fit(_Shifted(nm, off), X, y, starts, settings, scale=scale, truth=(nm_true, tt))
        d = res.to_dict()
        d.pop("seconds")
        runs.append((res.theta.tobytes(), json.dumps(d, sort_keys=True)))
    assert len(set(runs)) == 1
    assert res.method.split("+")[0] == path


# random and mixed starts of the Gaussian MoE begin with EM, whose M-step fits each expert by
# weighted least squares: that too must not depend on the allocation pattern (it called
# MINPACK's LM; now identify.numeric.lm). The specs are built once here and handed over.
_EM_CHILD = """
import json, sys
import numpy as np
from identify.numeric.simulate import simulation_task
from identify.numeric.sweep import Task
pattern = int(sys.argv[1])
keep = [np.empty(1 + (37 * pattern + 11 * j) % 97) for j in range(3 + 4 * pattern)]
out = {}
for job in json.loads(sys.stdin.read()):
    for t in job["tasks"]:
        keep.append(np.empty(1 + (13 * pattern + len(keep)) % 61))
        row = simulation_task(job["config"], Task(**t))
        out[f"{job['init']}/{t['seed']}"] = {
            "status": row["status"], "iterations": row["iterations"], "method": row["method"],
            "objective": row["objective"].hex(), "grad_norm": row["grad_norm"].hex(),
            "theta": np.array(row.get("theta", [])).tobytes().hex(),
            "truth_objective": row["truth_objective"]}
print(json.dumps(out))
"""


def test_em_warm_up_of_random_and_mixed_starts_gives_identical_bits_across_processes():
    jobs = []
    for init in ("random", "mixed"):
        spec = build_spec("tanh(a*x+b)", "softmax", estimator="gaussian", fitted_ks=(3,),
                          ns=[500], replicates=1, settings=FitSettings(init=init))
        jobs.append({"init": init, "config": spec.config(),
                     "tasks": [dataclasses.asdict(t) for t in spec.tasks()]})
    root = str(Path(identify.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", _EM_CHILD, str(p)], env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for p in range(3)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(json.dumps(jobs), timeout=600)
        assert p.returncode == 0, stderr
        outs.append(json.loads(stdout))
    assert len(outs[0]) == 2
    assert outs[1] == outs[0] and outs[2] == outs[0]
    rows = outs[0].values()
    # every fit went through the EM warm-up (20 iterations at most) before Newton
    assert all(int(r["method"][3:r["method"].index(")")]) >= 1 for r in rows)
    assert sum(r["status"] == "converged" for r in rows) >= 1
    for r in rows:
        if r["status"] == "converged":
            assert float.fromhex(r["objective"]) <= r["truth_objective"]
            assert float.fromhex(r["grad_norm"]) <= FitSettings().grad_tol


class _ShiftedCalls:
    """A model whose compiled functions (expert, its derivatives, scores) return their values
    at a given alignment: what the EM M-step's least squares sees."""

    def __init__(self, nm: NumericModel, off: int):
        self._nm, self._off = nm, off

    def __getattr__(self, name):
        return getattr(self._nm, name)

    def _call(self, f, X, atom, shared):
        return _at(np.ascontiguousarray(self._nm._call(f, X, atom, shared)), self._off)


def test_the_em_m_step_does_not_depend_on_the_arrays_alignment():
    from identify.numeric.em import e_step, m_step
    spec = build_spec("tanh(a*x+b)", "softmax", estimator="gaussian", fitted_ks=(3,),
                      ns=[500], replicates=1, settings=FitSettings(init="random"))
    cfg, model, truth, nm_true, tt = _context(json.dumps(spec.config(), sort_keys=True))
    task = spec.tasks()[0]
    rng = np.random.default_rng(task.seed)
    X, y = sample_data(nm_true, truth, task.n, rng)
    nm = NumericModel(model, 3)
    theta = initial_points(nm, nm_true, tt, task.n, rng, FitSettings(**cfg["fit"]))[0]
    gamma, _ = e_step(nm, X, y, theta)
    outs = {m_step(_ShiftedCalls(nm, off), X, y, theta, gamma, 10.0).tobytes()
            for off in range(8)}
    assert len(outs) == 1
    new = np.frombuffer(outs.pop())
    # a generalised EM step: the surrogate Q does not decrease
    assert nm.loglik(X, y, new, gamma)[0] >= nm.loglik(X, y, theta, gamma)[0]
