"""The Gaussian MoE's log-likelihood with its analytic gradient and Hessian.

For a normalised gate write phi_i for the log of the unnormalised weight (softmax and top-K:
phi_i = s_i, the score; normalised sigmoid: phi_i = log sigma(s_i)), so that
log g_i = phi_i - lse_j(phi_j), and a_i = phi_i + log N(y | h_i, nu_i). Per observation

    l = lse_i(a_i) - lse_i(phi_i),
    dl = sum_i gamma_i da_i - sum_i g_i dphi_i,
    d2l = sum_i gamma_i (d2a_i + da_i da_i^T) - u u^T
          - sum_i g_i (d2phi_i + dphi_i dphi_i^T) + v v^T,

with gamma the responsibilities, u = sum_i gamma_i da_i and v = sum_i g_i dphi_i. The first and
second derivatives of the score and of the expert are compiled from the same sympy
expressions as the model itself (:meth:`NumericModel.second_derivatives`); log N contributes
d(log N)/d eta = r/nu dh, d2/(d eta d eta') = -dh dh^T / nu + r/nu d2h, d2/(d eta d nu) =
-r/nu^2 dh, d/d nu = r^2/(2 nu^2) - 1/(2 nu), d2/d nu^2 = 1/(2 nu^2) - r^2/nu^3 (r = y - h).
Top-K is piecewise: inside a region of fixed selection the formula holds with the
unselected atoms' weights and responsibilities at 0.

Models without this form (the unnormalised sigmoid gate, hierarchical density mixtures) get
the Hessian by central differences of the analytic gradient (:func:`fd_hessian`).
"""

from __future__ import annotations

import numpy as np
import scipy.special as sp

from identify.numeric.compile import NumericModel

__all__ = ["has_analytic_hessian", "loglik_value", "loglik_hessian", "fd_hessian"]


def has_analytic_hessian(nm: NumericModel) -> bool:
    return (nm.gaussian and not nm.density
            and nm.gate.normaliser in ("softmax", "top-k", "normalised-sigmoid"))


def _dot_pairs(fs, X, atom, shared, nm, weight) -> np.ndarray:
    """sum_n weight_n * f_pq(x_n) for the compiled second derivatives f_pq (None = 0)."""
    m = len(fs)
    out = np.zeros((m, m))
    for p in range(m):
        for q in range(p, m):
            if fs[p][q] is not None:
                out[p, q] = out[q, p] = float(weight @ nm._call(fs[p][q], X, atom, shared))
    return out


def _log_terms(nm: NumericModel, X, y, full):
    """Scores S, weights G, residuals R, responsibilities and the log-likelihood; the arrays
    are k x n (rows: atoms)."""
    atoms, shared = nm.split(full)
    nu = atoms[:, -1]
    S = np.array([nm._call(nm._score, X, a, shared) for a in atoms])
    R = y[None, :] - np.array([nm._call(nm._h, X, a, shared) for a in atoms])
    norm = nm.gate.normaliser
    if norm == "top-k":
        with np.errstate(divide="ignore"):  # the unselected atoms: log 0 = -inf
            logG = np.log(nm.parts(X, full)[1].T)
    else:
        phi = -np.logaddexp(0.0, -S) if norm == "normalised-sigmoid" else S
        mx = phi.max(axis=0)
        logG = phi - (mx + np.log(np.exp(phi - mx).sum(axis=0)))
    L = logG - (R * R) / (2 * nu[:, None]) - 0.5 * np.log(2 * np.pi * nu)[:, None]
    mx = L.max(axis=0)
    E = np.exp(L - mx)
    tot = E.sum(axis=0)
    E /= tot
    return S, np.exp(logG), R, E, float(np.sum(mx + np.log(tot)))


def loglik_value(nm: NumericModel, X: np.ndarray, y: np.ndarray, theta_free: np.ndarray
                 ) -> float:
    """The log-likelihood alone (-inf outside the domain)."""
    full = nm.full(theta_free)
    if np.any(nm.split(full)[0][:, -1] <= 0):
        return -np.inf
    return _log_terms(nm, X, y, full)[-1]


def loglik_hessian(nm: NumericModel, X: np.ndarray, y: np.ndarray, theta_free: np.ndarray
                   ) -> tuple[float, np.ndarray, np.ndarray]:
    """(log-likelihood, gradient, Hessian) over the free parameters; -inf outside the domain."""
    if not has_analytic_hessian(nm):
        raise ValueError("no analytic Hessian for this model; use fd_hessian")
    P = nm.n_free
    full = nm.full(theta_free)
    atoms, shared = nm.split(full)
    nu = atoms[:, -1]
    if np.any(nu <= 0):
        return -np.inf, np.zeros(P), np.zeros((P, P))
    n = X.shape[0]
    S, G, R, gamma, value = _log_terms(nm, X, y, full)
    sig = sp.expit(S) if nm.gate.normaliser == "normalised-sigmoid" else None
    ng, ne, na, nsh = len(nm.gate_syms), len(nm.expert_syms), nm.n_atom, len(nm.shared_syms)
    n_slots = len(nm.slots)
    gate_local = list(range(ng)) + [na + s for s in range(nsh)]
    m = na + nsh
    d2s, d2h = nm.second_derivatives("score"), nm.second_derivatives("expert")
    # rows are parameters, columns observations (contiguous row operations). U = sum_i
    # gamma_i da_i over every slot; V = sum_i g_i dphi_i over the gate's slots only.
    gate_slots = [i * na + j for i in range(nm.k) for j in range(ng)] + \
        [nm.k * na + s for s in range(nsh)]
    U = np.zeros((n_slots, n))
    V = np.zeros((len(gate_slots), n))
    hess = np.zeros((n_slots, n_slots))
    ee = slice(ng, ng + ne)
    gl = np.ix_(gate_local, gate_local)
    for i, a in enumerate(atoms):
        g, gm, r, v_i = G[i], gamma[i], R[i], nu[i]
        dS = np.array([nm._call(f, X, a, shared) for f in nm._dscore]).reshape(-1, n)
        dphi = dS if sig is None else dS * (1 - sig[i])  # d log sigma(s) = (1 - sigma) ds
        dh = np.array([nm._call(f, X, a, shared) for f in nm._dh]).reshape(ne, n)
        rv = r / v_i
        Lu = np.empty((m, n))
        Lu[gate_local] = dphi
        Lu[ee] = rv * dh
        Lu[na - 1] = (rv * rv - 1 / v_i) / 2
        idx = [i * na + j for j in range(na)] + [nm.k * na + s for s in range(nsh)]
        gLu, gLv = gm * Lu, g * dphi
        U[idx] += gLu
        V[[i * ng + j for j in range(ng)] + [nm.k * ng + s for s in range(nsh)]] += gLv
        loc = gLu @ Lu.T
        loc[gl] -= gLv @ dphi.T
        # second derivatives of phi (weight gamma - g) and of log N (weight gamma)
        wphi = gm - g
        loc[gl] += _dot_pairs(d2s, X, a, shared, nm, wphi if sig is None else wphi * (1 - sig[i]))
        if sig is not None:  # d2 log sigma(s) = (1 - sig) d2s - sig (1 - sig) ds ds^T
            loc[gl] -= (dS * (wphi * sig[i] * (1 - sig[i]))) @ dS.T
        gdh = dh * (gm / v_i)
        loc[ee, ee] += -gdh @ dh.T + _dot_pairs(d2h, X, a, shared, nm, gm * rv)
        cross = -(gdh @ rv)
        loc[ee, na - 1] += cross
        loc[na - 1, ee] += cross
        loc[na - 1, na - 1] += float(np.sum(gm * (0.5 - r * rv)) / v_i**2)
        hess[np.ix_(idx, idx)] += loc
    grad = U.sum(axis=1)
    grad[gate_slots] -= V.sum(axis=1)
    hess -= U @ U.T
    hess[np.ix_(gate_slots, gate_slots)] += V @ V.T
    fi = nm.free_index
    return value, grad[fi], hess[np.ix_(fi, fi)]


def fd_hessian(grad, theta: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """Central differences of an analytic gradient, symmetrised (step 1e-5 * max(1, |theta|))."""
    P = len(theta)
    step = 1e-5 * (np.maximum(1.0, np.abs(theta)) if scale is None else scale)
    out = np.zeros((P, P))
    for j in range(P):
        e = np.zeros(P)
        e[j] = step[j]
        out[:, j] = (grad(theta + e) - grad(theta - e)) / (2 * step[j])
    return (out + out.T) / 2
