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

A fit evaluates these on fixed data many times (a Newton iteration: one Hessian pass and two
or three value passes): :class:`LoglikKernel` prepares the data once (contiguous blocks, the
compiled functions of the inputs alone evaluated once), calls each compiled function once for
all atoms, and sums in a fixed order, so results are bitwise reproducible. The timings and
what was tried are in docs/performance.md.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sp

from identify.numeric.compile import NumericModel

__all__ = ["has_analytic_hessian", "LoglikKernel", "loglik_value", "loglik_hessian", "fd_hessian"]


def has_analytic_hessian(nm: NumericModel) -> bool:
    return (nm.gaussian and not nm.density
            and nm.gate.normaliser in ("softmax", "top-k", "normalised-sigmoid"))


#: observations per block: sums over blocks of this size keep the working arrays in cache
#: (at n = 1e5 a whole-data pass is memory-bound and ~1.5x slower per observation)
CHUNK = 8192


#: observations per sub-block of the Hessian pass (its per-atom working arrays, m x SUB, stay
#: in a core's 512 KiB L2 cache; 2x faster than whole blocks at n = 1e5, measured)
SUB = 4096


def _chunks(n: int):
    return [slice(i, min(i + CHUNK, n)) for i in range(0, n, CHUNK)]


class LoglikKernel:
    """The log-likelihood, its gradient and Hessian on fixed data (one fit's X, y).

    Prepared once per fit: the data in contiguous blocks of :data:`CHUNK` observations, and
    the compiled functions of the inputs alone (for linear scores and experts every first
    derivative: 1 or x) evaluated once per block. Every compiled function is evaluated for all
    k atoms in one call (parameters as k x 1 columns broadcast against the inputs), checked
    once against the atom-by-atom evaluation (bitwise) and used atom by atom where it differs
    or fails. Sums run over the blocks in a fixed order: the results are deterministic."""

    def __init__(self, nm: NumericModel, X: np.ndarray, y: np.ndarray):
        self.nm, self.n = nm, len(y)
        self.blocks = []
        for c in _chunks(len(y)):
            Xc = np.ascontiguousarray(X[c], dtype=float)
            self.blocks.append((Xc, tuple(np.ascontiguousarray(col) for col in Xc.T),
                                np.ascontiguousarray(y[c], dtype=float)))
        self._fixed: dict[tuple[int, int], np.ndarray] = {}
        self._broadcast: dict[int, bool] = {}

    # -- evaluation of the compiled functions, all atoms at once -----------------------
    def _per_atom(self, f, b, atoms, shared):
        Xc = self.blocks[b][0]
        return np.array([self.nm._call(f, Xc, a, shared) for a in atoms])

    def _eval(self, f, b, atoms, shared, cols):
        """f at every atom on block b: k x n_b (a read-only view when f is of the inputs alone)."""
        k, nb = atoms.shape[0], self.blocks[b][0].shape[0]
        key = id(f)
        if key in self.nm.input_only:
            out = self._fixed.get((key, b))
            if out is None:
                out = self._fixed[(key, b)] = np.broadcast_to(
                    np.asarray(f(*self.blocks[b][1], *atoms[0], *shared), float), (nb,)).copy()
            return np.broadcast_to(out, (k, nb))
        ok = self._broadcast.get(key)
        if ok is None:
            try:
                with np.errstate(all="ignore"):
                    trial = np.broadcast_to(np.asarray(f(*self.blocks[b][1], *cols, *shared), float),
                                            (k, nb))
                    ok = bool(np.array_equal(trial, self._per_atom(f, b, atoms, shared),
                                             equal_nan=True))
            except (ValueError, TypeError, IndexError):
                ok = False
            self._broadcast[key] = ok
        if not ok:
            return self._per_atom(f, b, atoms, shared)
        return np.broadcast_to(np.asarray(f(*self.blocks[b][1], *cols, *shared), float), (k, nb))

    def _params(self, theta_free):
        full = self.nm.full(theta_free)
        atoms, shared = self.nm.split(full)
        cols = [atoms[:, j:j + 1] for j in range(atoms.shape[1])]
        return full, atoms, shared, cols

    def _terms(self, b, full, atoms, shared, cols):
        """On block b (k x n_b arrays, rows: atoms): scores S, log-weights log G, residuals R,
        the unnormalised responsibilities E with their column sums, and the log-likelihood."""
        nm = self.nm
        nu = atoms[:, -1]
        y = self.blocks[b][2]
        S = self._eval(nm._score, b, atoms, shared, cols)
        R = y - self._eval(nm._h, b, atoms, shared, cols)
        norm = nm.gate.normaliser
        if norm == "top-k":
            with np.errstate(divide="ignore"):  # the unselected atoms: log 0 = -inf
                logG = np.log(nm.parts(self.blocks[b][0], full)[1].T)
        else:
            phi = -np.logaddexp(0.0, -S) if norm == "normalised-sigmoid" else S
            mx = phi.max(axis=0)
            t = phi - mx
            np.exp(t, out=t)
            lse = np.log(t.sum(axis=0))
            lse += mx
            logG = phi - lse
        # L = log G - R^2 / (2 nu) - log(2 pi nu) / 2, in place (the same operations in the
        # same order: the same bits; fewer arrays, which keeps the block in cache)
        L = R * R
        L /= 2 * nu[:, None]
        np.subtract(logG, L, out=L)
        L -= 0.5 * np.log(2 * np.pi * nu)[:, None]
        mx = L.max(axis=0)
        # floored at exp(-300) = 5e-131 of the largest term (which is 1): the sums and the
        # log-likelihood are the same to the last bit (1 + 5e-131 = 1), a far atom's
        # responsibility is 5e-131 instead of exp(-1e4) (both below any rounding), and exp
        # stays on numpy's fast path (underflowing arguments are ~3x slower)
        E = L
        E -= mx
        np.maximum(E, -300.0, out=E)
        np.exp(E, out=E)
        tot = E.sum(axis=0)
        return S, logG, R, E, tot, float(np.sum(mx + np.log(tot)))

    # -- the passes ------------------------------------------------------------------------
    def value(self, theta_free: np.ndarray) -> float:
        """The log-likelihood alone (-inf outside the domain). Block by block, each block's
        arrays freed before the next (kept, e.g. for a Hessian pass at the same theta, they
        made the pass 1.5x slower: 10 MB of fresh memory per pass instead of cache-hot
        blocks)."""
        full, atoms, shared, cols = self._params(theta_free)
        if np.any(atoms[:, -1] <= 0):
            return -np.inf
        return float(sum(self._terms(b, full, atoms, shared, cols)[-1]
                         for b in range(len(self.blocks))))

    def hessian(self, theta_free: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(log-likelihood, gradient, Hessian) over the free parameters; -inf outside."""
        nm = self.nm
        P = nm.n_free
        full, atoms, shared, cols = self._params(theta_free)
        if np.any(atoms[:, -1] <= 0):
            return -np.inf, np.zeros(P), np.zeros((P, P))
        value, grad, hess = 0.0, np.zeros(P), np.zeros((P, P))
        for b in range(len(self.blocks)):
            v, g, H = self._block(b, atoms, shared, cols, self._terms(b, full, atoms, shared, cols))
            value, grad, hess = value + v, grad + g, hess + H
        return value, grad, hess

    def _block(self, b, atoms, shared, cols, terms):
        """(value, gradient, Hessian) on block b from its log-terms (on the whole block: the
        value bitwise as in :meth:`value`); the derivatives on sub-blocks of :data:`SUB`
        observations (their working arrays stay in a core's cache)."""
        S, logG, R, E, tot, value = terms
        G, gamma = np.exp(logG), E / tot
        nm = self.nm
        dSk = [self._eval(f, b, atoms, shared, cols) for f in nm._dscore]
        dhk = [self._eval(f, b, atoms, shared, cols) for f in nm._dh]
        P = nm.n_free
        grad, hess = np.zeros(P), np.zeros((P, P))
        nb = S.shape[1]
        for lo in range(0, nb, SUB):
            c = slice(lo, min(lo + SUB, nb))
            g, H = self._derivatives(b, c, atoms, shared, cols, S[:, c], G[:, c], R[:, c],
                                     gamma[:, c], [d[:, c] for d in dSk], [d[:, c] for d in dhk])
            grad, hess = grad + g, hess + H
        return value, grad, hess

    def _derivatives(self, b, c, atoms, shared, cols, S, G, R, gamma, dSk, dhk):
        """Gradient and Hessian over the observations c of block b (see the module's
        formulas); per atom the rows da_i (gate, expert, variance, shared) of Lu."""
        nm = self.nm
        nu = atoms[:, -1]
        n = S.shape[1]
        sig = sp.expit(S) if nm.gate.normaliser == "normalised-sigmoid" else None
        ng, ne, na, nsh = len(nm.gate_syms), len(nm.expert_syms), nm.n_atom, len(nm.shared_syms)
        n_slots = len(nm.slots)
        gate_local = list(range(ng)) + [na + s for s in range(nsh)]
        m = na + nsh
        d2s, d2h = nm.second_derivatives("score"), nm.second_derivatives("expert")
        any_d2s = any(f is not None for row in d2s for f in row)
        # rows are parameters, columns observations (contiguous row operations). U = sum_i
        # gamma_i da_i over every slot; V = sum_i g_i dphi_i over the gate's slots only.
        k = nm.k
        gate_slots = [i * na + j for i in range(k) for j in range(ng)] + \
            [k * na + s for s in range(nsh)]
        U = np.empty((n_slots, n))
        V = np.empty((len(gate_slots), n))
        U[k * na:] = 0.0
        V[k * ng:] = 0.0
        hess = np.zeros((n_slots, n_slots))
        ee = slice(ng, ng + ne)
        gl = np.ix_(gate_local, gate_local) if nsh else (slice(0, ng), slice(0, ng))
        inu = na - 1
        for i in range(k):
            g, gm, r, v_i = G[i], gamma[i], R[i], nu[i]
            rv = r / v_i
            Lu = np.empty((m, n))
            for j, row in enumerate(gate_local):
                Lu[row] = dSk[j][i]
            if sig is not None:  # d log sigma(s) = (1 - sigma) ds
                Lu[gate_local] *= 1 - sig[i]
            dphi = Lu[gate_local] if nsh else Lu[:ng]
            for j in range(ne):
                np.multiply(rv, dhk[j][i], out=Lu[ng + j])
            np.multiply(rv, rv, out=Lu[inu])
            Lu[inu] -= 1 / v_i
            Lu[inu] /= 2
            if nsh:
                gLu, gLv = gm * Lu, g * dphi
                U[i * na:(i + 1) * na] = gLu[:na]
                V[i * ng:(i + 1) * ng] = gLv[:ng]
                U[k * na:] += gLu[na:]
                V[k * ng:] += gLv[ng:]
            else:  # the rows of U and V directly
                gLu = np.multiply(gm, Lu, out=U[i * na:(i + 1) * na])
                gLv = np.multiply(g, dphi, out=V[i * ng:(i + 1) * ng])
            loc = gLu @ Lu.T
            loc[gl] -= gLv @ dphi.T
            # second derivatives of phi (weight gamma - g) and of log N (weight gamma)
            if sig is not None or any_d2s:
                wphi = gm - g
            if sig is not None:  # d2 log sigma(s) = (1 - sig) d2s - sig (1 - sig) ds ds^T
                dS = np.array([d[i] for d in dSk]).reshape(-1, n)
                loc[gl] -= (dS * (wphi * sig[i] * (1 - sig[i]))) @ dS.T
            if any_d2s:
                loc[gl] += self._dot_pairs(d2s, b, c, i, atoms, shared, cols,
                                           wphi if sig is None else wphi * (1 - sig[i]))
            if ne:  # -sum gamma/nu dh dh^T, and the expert's own second derivatives
                w = gm / v_i
                for p in range(ne):
                    t = w * dhk[p][i]
                    for q in range(p, ne):
                        loc[ng + p, ng + q] -= float(t @ dhk[q][i])
                        if q != p:
                            loc[ng + q, ng + p] = loc[ng + p, ng + q]
                loc[ee, ee] += self._dot_pairs(d2h, b, c, i, atoms, shared, cols, gm * rv)
            s0 = i * na
            hess[s0:s0 + na, s0:s0 + na] += loc[:na, :na]
            if nsh:
                sh = slice(k * na, k * na + nsh)
                hess[s0:s0 + na, sh] += loc[:na, na:]
                hess[sh, s0:s0 + na] += loc[na:, :na]
                hess[sh, sh] += loc[na:, na:]
        grad = U.sum(axis=1)
        sg = gamma.sum(axis=1)
        for i in range(k):  # the variance's second derivatives from the row sums of U
            s0, v_i = i * na, nu[i]
            # d2 log N / d eta d nu = -r/nu^2 dh: -(sum gamma rv dh) / nu
            cross = -grad[s0 + ng:s0 + ng + ne] / v_i
            hess[s0 + ng:s0 + ng + ne, s0 + inu] += cross
            hess[s0 + inu, s0 + ng:s0 + ng + ne] += cross
            # d2 log N / d nu^2 = 1/(2 nu^2) - r^2/nu^3, weighted by gamma and summed:
            # -sum gamma / (2 nu^2) - 2 sum gamma (rv^2 - 1/nu)/2 / nu
            hess[s0 + inu, s0 + inu] += -float(sg[i]) / (2 * v_i**2) - 2 * float(grad[s0 + inu]) / v_i
        grad[gate_slots] -= V.sum(axis=1)
        hess -= U @ U.T
        hess[np.ix_(gate_slots, gate_slots)] += V @ V.T
        fi = nm.free_index
        return grad[fi], hess[np.ix_(fi, fi)]

    def _dot_pairs(self, fs, b, c, i, atoms, shared, cols, weight) -> np.ndarray:
        """sum_n weight_n * f_pq(x_n) over the observations c of block b at atom i for the
        compiled second derivatives f_pq (None = 0)."""
        m = len(fs)
        out = np.zeros((m, m))
        for p in range(m):
            for q in range(p, m):
                if fs[p][q] is not None:
                    out[p, q] = out[q, p] = float(
                        weight @ self._eval(fs[p][q], b, atoms, shared, cols)[i, c])
        return out


def loglik_value(nm: NumericModel, X: np.ndarray, y: np.ndarray, theta_free: np.ndarray
                 ) -> float:
    """The log-likelihood alone (-inf outside the domain)."""
    return LoglikKernel(nm, X, y).value(theta_free)


def loglik_hessian(nm: NumericModel, X: np.ndarray, y: np.ndarray, theta_free: np.ndarray
                   ) -> tuple[float, np.ndarray, np.ndarray]:
    """(log-likelihood, gradient, Hessian) over the free parameters; -inf outside the domain.
    Sums over blocks of :data:`CHUNK` observations (a fixed order: deterministic)."""
    if not has_analytic_hessian(nm):
        raise ValueError("no analytic Hessian for this model; use fd_hessian")
    return LoglikKernel(nm, X, y).hessian(theta_free)


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
