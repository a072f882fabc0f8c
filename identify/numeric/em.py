"""One EM iteration for the Gaussian MoE (the warm-up before the second-order fit).

- E-step: responsibilities gamma_ni and the log-likelihood in one pass.
- M-step for softmax-type gates: for each expert, weighted least squares of y on
  h(x; eta) with weights gamma_i (Levenberg-Marquardt, :mod:`identify.numeric.lm`: numpy,
  bitwise reproducible; exact in one step when h is linear in eta), then the closed-form
  variance nu_i = sum gamma_i (y - h_i)^2 / sum gamma_i; the gate by Fisher scoring (IRLS)
  on Q_gate = sum_n sum_i gamma_ni log g_i(x_n) with step halving.
- Other gates: a short L-BFGS-B step on the EM surrogate Q (a generalised EM: an
  improvement, not the optimum).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from identify.numeric.compile import NumericModel
from identify.numeric.lm import levenberg_marquardt

__all__ = ["e_step", "em_iteration", "m_step"]

#: the expert's weighted least squares in the M-step: residual evaluations, gradient test
MSTEP_NFEV = 50
MSTEP_GRAD_TOL = 1e-8


def e_step(nm: NumericModel, X, y, theta) -> tuple[np.ndarray, float]:
    """(responsibilities n x k, log-likelihood) at theta."""
    full = nm.full(theta)
    atoms, _ = nm.split(full)
    _, G, H = nm.parts(nm.with_y(X, y), full)
    with np.errstate(divide="ignore"):
        if nm.density:
            logN = np.log(H)
        else:
            nu = atoms[:, -1]
            logN = -0.5 * np.log(2 * np.pi * nu) - (y[:, None] - H) ** 2 / (2 * nu)
        L = np.log(G) + logN
    mx = L.max(axis=1, keepdims=True)
    P = np.exp(L - mx)
    tot = P.sum(axis=1, keepdims=True)
    return P / tot, float(np.sum(mx[:, 0] + np.log(tot[:, 0])))


def em_iteration(nm: NumericModel, X, y, theta, box: float, bounds, mstep_iterations: int
                 ) -> tuple[np.ndarray, float]:
    """One EM iteration from theta: (new theta, log-likelihood at the *old* theta)."""
    gamma, value = e_step(nm, X, y, theta)
    if nm.gate.normaliser in ("softmax", "top-k") and not nm.density:
        return m_step(nm, X, y, theta, gamma, box), value
    n = len(y)

    def negq(th):
        v, g = nm.loglik(X, y, th, gamma)
        return (-v / n, -g / n) if np.isfinite(v) else (np.inf, np.zeros_like(g))
    return minimize(negq, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                    options={"maxiter": mstep_iterations}).x, value


def m_step(nm: NumericModel, X, y, theta, gamma, box: float) -> np.ndarray:
    """One EM M-step for a softmax-type gate.

    Experts: for each atom, weighted least squares of y on h(x; eta) with weights gamma_i
    (Levenberg-Marquardt of :mod:`identify.numeric.lm`, not MINPACK's, whose path depends on
    the memory alignment of its work arrays; exact in one step when h is linear in eta;
    at most :data:`MSTEP_NFEV` residual evaluations, stopped on the gradient test
    :data:`MSTEP_GRAD_TOL` or a stall; a generalised EM step needs an improvement, which every
    accepted LM step is), then the closed-form
    variance nu_i = sum gamma_i (y - h_i)^2 / sum gamma_i. Gate: Fisher scoring (IRLS) on
    Q_gate = sum_n sum_i gamma_ni log g_i(x_n) with step halving.
    """
    atoms, shared = nm.split(nm.full(theta))
    ng, ne = len(nm.gate_syms), len(nm.expert_syms)
    e_idx = list(range(ng, ng + ne))
    for i in range(nm.k):
        w = gamma[:, i]
        sw = np.sqrt(w)
        if ne:
            def res(eta, i=i, sw=sw):
                a = atoms[i].copy()
                a[e_idx] = eta
                return sw * (nm._call(nm._h, X, a, shared) - y)

            def jac(eta, i=i, sw=sw):
                a = atoms[i].copy()
                a[e_idx] = eta
                return np.column_stack([sw * nm._call(f, X, a, shared) for f in nm._dh])
            try:
                out = levenberg_marquardt(res, jac, atoms[i, e_idx], grad_tol=MSTEP_GRAD_TOL,
                                          max_nfev=MSTEP_NFEV, box=box)
            except ValueError:  # non-finite residuals or Jacobian: keep this expert's eta
                out = None
            if out is not None and out.stop != "outside" and np.all(np.abs(out.theta) <= box):
                atoms[i, e_idx] = out.theta
        resid = y - nm._call(nm._h, X, atoms[i], shared)
        atoms[i, -1] = max(float(np.sum(w * resid**2) / max(np.sum(w), 1e-300)), 1e-8)
    theta = nm.pack(atoms, shared)
    return _gate_scoring(nm, X, theta, gamma)


def _gate_scoring(nm: NumericModel, X, theta, gamma, steps: int = 3) -> np.ndarray:
    """Fisher scoring for the gate parameters: grad = sum_n D_n^T (gamma_n - g_n),
    Fisher = sum_n D_n^T (diag g_n - g_n g_n^T) D_n, D_n[i, p] = d s_i / d phi_p."""
    gate_free = np.array([j for j, sl in enumerate(s for s in nm.slots if s.free)
                          if sl.atom is None or _slot_index(nm, sl) < len(nm.gate_syms)])
    if gate_free.size == 0:
        return theta

    def q_and_parts(th):
        full = nm.full(th)
        atoms, shared = nm.split(full)
        S, G, _ = nm.parts(X, full)
        with np.errstate(divide="ignore"):
            q = float(np.sum(np.where(gamma > 0, gamma * np.log(G), 0.0)))
        return q, atoms, shared, G

    q, atoms, shared, G = q_and_parts(theta)
    for _ in range(steps):
        D = _score_jacobian(nm, X, atoms, shared)[:, :, gate_free]  # n x k x P
        P = D.shape[2]
        grad = (gamma - G).reshape(-1) @ D.reshape(-1, P)
        t = np.einsum("nip,ni->np", D, G)
        Dg = (D * np.sqrt(G)[:, :, None]).reshape(-1, P)
        fisher = Dg.T @ Dg - t.T @ t
        try:
            step = np.linalg.solve(fisher + 1e-9 * np.eye(len(grad)) * (1 + np.trace(fisher)),
                                   grad)
        except np.linalg.LinAlgError:
            break
        for _halving in range(20):
            cand = theta.copy()
            cand[gate_free] += step
            qc, ac, sc, Gc = q_and_parts(cand)
            if np.isfinite(qc) and qc >= q:
                theta, q, atoms, shared, G = cand, qc, ac, sc, Gc
                break
            step = step / 2
        else:
            break
    return theta


def _slot_index(nm: NumericModel, slot) -> int:
    return [s.name for s in nm.atom_syms].index(slot.symbol)


def _score_jacobian(nm: NumericModel, X, atoms, shared) -> np.ndarray:
    """d s_i(x_n) / d theta_free_j for every free slot: n x k x n_free (0 off the atom)."""
    free = [s for s in nm.slots if s.free]
    out = np.zeros((X.shape[0], nm.k, len(free)))
    dS = nm._dscores(X, atoms, shared)
    ng = len(nm.gate_syms)
    for j, sl in enumerate(free):
        if sl.atom is None:  # shared (temperature): every atom's score
            p = ng + [s.name for s in nm.shared_syms].index(sl.symbol)
            for i in range(nm.k):
                out[:, i, j] = dS[i][p]
        else:
            p = _slot_index(nm, sl)
            if p < ng:
                out[:, sl.atom, j] = dS[sl.atom][p]
    return out
