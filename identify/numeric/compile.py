"""Compile a symbolic model to fast numpy: the mixture, its gradient and its likelihood.

The same sympy expressions the analyzer uses (the gate's score, the expert) are turned into
vectorised numpy functions with ``sympy.lambdify`` (on validated expressions only; never
on user text), together with their analytic derivatives. The mixture's Jacobian then
follows by the chain rule through the gate's normaliser:

- softmax-type gates: g = softmax(s), df/ds_i = g_i (h_i - f);
- sigmoid gate (not normalised): g_i = sigma(s_i), df/ds_i = g_i (1 - g_i) h_i;
- normalised sigmoid: g_i = sigma_i / sum_j sigma_j, df/ds_i = sigma_i' / S (h_i - f);
- top-K: softmax over the K largest scores, 0 elsewhere (piecewise; no gradient through
  the selection).

Parameters of the k atoms are laid out atom by atom, gate block first (bias beta0, then the
kernel's blocks), then the expert's, then the variance nu for the Gaussian MoE; parameters
shared by all atoms (the temperature) come last; the last atom's pinned parameters (softmax
shift invariance) are fixed at 0 and not free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.special as sp
import sympy

from identify.errors import ConfigError
from identify.model.model import Estimator, Model
from identify.model.parse import make_symbol

__all__ = ["NumericModel", "NUMPY_FUNCTIONS"]

NUMPY_FUNCTIONS = {
    "sigmoid": sp.expit,
    "softplus": lambda z: np.logaddexp(0.0, z),
    "relu": lambda z: np.maximum(z, 0.0),
    "Heaviside": lambda z, *_: np.heaviside(z, 0.5),
    "DiracDelta": lambda z, *_: np.zeros_like(z),
    "erf": sp.erf,
    "erfc": sp.erfc,
}
_MODULES = [NUMPY_FUNCTIONS, "numpy"]


def _lambdify(args, expr):
    f = sympy.lambdify(args, expr, modules=_MODULES, cse=True)
    return f


@dataclass(frozen=True)
class Slot:
    """One free or pinned scalar parameter of the k-atom mixture."""

    name: str        # e.g. "a[2]" or "tau"
    symbol: str      # the model's parameter name, e.g. "a"
    atom: int | None  # 0-based atom index, None when shared
    block: str
    free: bool


class NumericModel:
    """A k-atom mixture of ``model`` in numpy: values, Jacobian, log-likelihood and gradient."""

    def __init__(self, model: Model, k: int):
        gate = model.gate
        tree = hasattr(gate, "group_function") and gate.options.get("form") != "path"
        # hierarchical Gaussian MoE: each group's component is the density
        # D = sum_e rho_e N(y | h_e, nu_e) (a function of x and y), not a mean and a variance
        self.density = tree and model.estimator is Estimator.GAUSSIAN
        if k < 1:
            raise ConfigError(f"the number of fitted atoms must be >= 1, got {k}", where="k")
        self.model, self.k, self.gate = model, k, gate
        dim = model.dim
        self.x_syms = model.expert.inputs
        score = gate.score(self.x_syms, dim)
        shared = [make_symbol(n) for n in gate.shared]
        gate_syms = [make_symbol("beta0")] + [s for b in gate.blocks(dim) for s in b.symbols
                                               if s not in shared and s.name != "beta0"
                                               and s in score.free_symbols]
        if tree:  # a flat softmax over top-level groups; each group's "expert" is N(group)
            h, _ = gate.group_function(self.x_syms, model.component)
            expert_syms = [s for s in model.parameters if s not in gate_syms]
        else:
            h = model.expert.expr
            expert_syms = list(model.expert.parameters)
        self.gaussian = model.estimator is Estimator.GAUSSIAN
        var_syms = [make_symbol("nu")] if self.gaussian and not self.density else []
        self.atom_syms = gate_syms + expert_syms + var_syms
        self.shared_syms = shared
        self.gate_syms, self.expert_syms, self.var_syms = gate_syms, expert_syms, var_syms
        blocks = {s.name: b.name for b in model.blocks for s in b.symbols}
        blocks["beta0"] = "beta0"
        self.block_of = blocks
        self.y_sym = make_symbol("y")
        args = list(self.x_syms) + ([self.y_sym] if self.density else []) + self.atom_syms + shared
        self._args = args
        self._score_expr, self._h_expr = score, h
        self._second: dict[str, list] = {}
        self.input_only: set[int] = set()  # ids of compiled functions of the inputs alone
        self._score = self._compile(score)
        self._dscore = [self._compile(sympy.diff(score, s)) for s in gate_syms + shared]
        self._h = self._compile(h)
        self._dh = [self._compile(sympy.diff(h, s)) for s in expert_syms]
        pinned = set(gate.pinned)
        slots: list[Slot] = []
        for i in range(k):
            for s in self.atom_syms:
                free = not (i == k - 1 and (s.name in pinned or blocks.get(s.name) in pinned))
                slots.append(Slot(f"{s.name}[{i + 1}]", s.name, i, blocks.get(s.name, s.name),
                                  free))
        for s in shared:
            slots.append(Slot(s.name, s.name, None, blocks.get(s.name, s.name), True))
        self.slots = tuple(slots)
        self.free_index = np.array([j for j, sl in enumerate(slots) if sl.free])
        self.n_atom = len(self.atom_syms)
        if self.density:  # for sampling: each expert's probability in its group, mean, variance
            self._leaves = [(_lambdify(args, prob), _lambdify(args, mean),
                             self.atom_syms.index(make_symbol(f"nu_{leaf}")))
                            for leaf, prob, mean in gate.leaf_terms(self.x_syms, model.expert)]

    def _compile(self, expr):
        """lambdify over the model's arguments; remember the functions of the inputs alone
        (no parameter: the same values at every theta, computed once per data set)."""
        f = _lambdify(self._args, expr)
        if not (getattr(expr, "free_symbols", set()) - set(self.x_syms)):
            self.input_only.add(id(f))
        return f

    def with_y(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The columns the compiled functions take: X, and y too for a density model."""
        return np.column_stack([X, y]) if self.density else X

    def sample_outputs(self, X: np.ndarray, full: np.ndarray, rng: np.random.Generator
                       ) -> np.ndarray:
        """y given X from the Gaussian MoE (atom, then for a hierarchy an expert, then noise)."""
        n = X.shape[0]
        Xe = self.with_y(X, np.zeros(n))
        _, G, H = self.parts(Xe, full)
        atoms, shared = self.split(full)
        z = _categorical(G, rng)
        if not self.density:
            return H[np.arange(n), z] + rng.normal(size=n) * np.sqrt(atoms[z, -1])
        y = np.empty(n)
        for g in range(self.k):
            rows = np.flatnonzero(z == g)
            if rows.size == 0:
                continue
            Xg = Xe[rows]
            P = np.column_stack([self._call(p, Xg, atoms[g], shared) for p, _, _ in self._leaves])
            e = _categorical(P, rng)
            means = np.column_stack([self._call(m, Xg, atoms[g], shared)
                                     for _, m, _ in self._leaves])
            var = np.array([atoms[g, v] for _, _, v in self._leaves])[e]
            y[rows] = means[np.arange(rows.size), e] + rng.normal(size=rows.size) * np.sqrt(var)
        return y

    def second_derivatives(self, which: str) -> list[list]:
        """Compiled second derivatives of the score (``"score"``, over the gate's and the
        shared parameters) or of the expert (``"expert"``, over its parameters), from the same
        sympy expressions; None where sympy proves the derivative identically 0."""
        if which not in self._second:
            expr, syms = ((self._score_expr, self.gate_syms + self.shared_syms) if which == "score"
                          else (self._h_expr, self.expert_syms))
            rows = []
            for p, sp_ in enumerate(syms):
                row = []
                for q, sq in enumerate(syms):
                    if q < p:
                        row.append(rows[q][p])
                        continue
                    d2 = sympy.diff(expr, sp_, sq)
                    row.append(None if d2 == 0 else self._compile(d2))
                rows.append(row)
            self._second[which] = rows
        return self._second[which]

    # -- layout ---------------------------------------------------------------------------
    @property
    def n_free(self) -> int:
        return len(self.free_index)

    def full(self, theta_free: np.ndarray) -> np.ndarray:
        full = np.zeros(len(self.slots))
        full[self.free_index] = theta_free
        return full

    def split(self, full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(k x n_atom per-atom parameters, shared parameters)."""
        atoms = full[: self.k * self.n_atom].reshape(self.k, self.n_atom)
        return atoms, full[self.k * self.n_atom:]

    def pack(self, atoms: np.ndarray, shared: np.ndarray | None = None) -> np.ndarray:
        full = np.concatenate([np.asarray(atoms, float).ravel(),
                               np.zeros(0) if shared is None else np.asarray(shared, float)])
        return full[self.free_index]

    # -- evaluation -----------------------------------------------------------------------
    def _call(self, f, X: np.ndarray, atom: np.ndarray, shared: np.ndarray) -> np.ndarray:
        out = f(*X.T, *atom, *shared)
        return np.broadcast_to(np.asarray(out, float), (X.shape[0],))

    def parts(self, X: np.ndarray, full: np.ndarray):
        """Scores S, weights G, expert values H (each n x k) and the gate's dnormaliser."""
        atoms, shared = self.split(full)
        S = np.column_stack([self._call(self._score, X, a, shared) for a in atoms])
        H = np.column_stack([self._call(self._h, X, a, shared) for a in atoms])
        norm = self.gate.normaliser
        if norm == "softmax" or norm == "top-k":
            Z = S
            if norm == "top-k":
                K = min(self.gate.options["k"], self.k)
                kth = np.sort(S, axis=1)[:, -K][:, None]
                Z = np.where(S >= kth, S, -np.inf)
            G = sp.softmax(Z, axis=1)
        elif norm == "sigmoid":
            G = sp.expit(S)
        else:  # normalised sigmoid
            sig = sp.expit(S)
            G = sig / sig.sum(axis=1, keepdims=True)
        return S, G, H

    def predict(self, X: np.ndarray, theta_free: np.ndarray) -> np.ndarray:
        _, G, H = self.parts(X, self.full(theta_free))
        return np.sum(G * H, axis=1)

    def _dscores(self, X, atoms, shared):
        return [[self._call(f, X, a, shared) for f in self._dscore] for a in atoms]

    def _df_ds(self, S, G, H, f):
        norm = self.gate.normaliser
        if norm in ("softmax", "top-k"):
            return G * (H - f[:, None])
        if norm == "sigmoid":
            return G * (1 - G) * H
        sig = sp.expit(S)
        return sig * (1 - sig) / sig.sum(axis=1, keepdims=True) * (H - f[:, None])

    def jacobian(self, X: np.ndarray, theta_free: np.ndarray) -> np.ndarray:
        """d f(x_n) / d theta_free, shape (n, n_free)."""
        full = self.full(theta_free)
        atoms, shared = self.split(full)
        S, G, H = self.parts(X, full)
        f = np.sum(G * H, axis=1)
        dfds = self._df_ds(S, G, H, f)
        return self._assemble(X, atoms, shared, dfds, G, mean_weight=None)[:, self.free_index]

    def _assemble(self, X, atoms, shared, dfds, G, mean_weight):
        """Columns for every slot: chain rule through scores (gate) and experts."""
        n = X.shape[0]
        ng = len(self.gate_syms)
        cols = np.zeros((n, len(self.slots)))
        dS = self._dscores(X, atoms, shared)
        for i, a in enumerate(atoms):
            base = i * self.n_atom
            for j in range(ng):
                cols[:, base + j] = dfds[:, i] * dS[i][j]
            w = G[:, i] if mean_weight is None else mean_weight[:, i]
            for j, fdh in enumerate(self._dh):
                cols[:, base + ng + j] = w * self._call(fdh, X, a, shared)
        for j in range(len(self.shared_syms)):
            cols[:, self.k * self.n_atom + j] = sum(dfds[:, i] * dS[i][ng + j]
                                                    for i in range(self.k))
        return cols

    # -- Gaussian MoE ---------------------------------------------------------------------
    def loglik(self, X: np.ndarray, y: np.ndarray, theta_free: np.ndarray,
               gamma: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Log-likelihood sum_n log sum_i g_i N(y | h_i, nu_i) and its gradient (free slots).

        With ``gamma`` (responsibilities held fixed), the EM surrogate
        Q = sum_n sum_i gamma_ni (log g_i + log N_i) and its gradient instead.
        """
        full = self.full(theta_free)
        atoms, shared = self.split(full)
        X = self.with_y(X, y)
        S, G, H = self.parts(X, full)
        if self.density:
            if np.any(H <= 0) or not np.all(np.isfinite(H)):
                return -np.inf, np.zeros(self.n_free)
            logN = np.log(H)
        else:
            nu = atoms[:, -1]
            if np.any(nu <= 0):
                return -np.inf, np.zeros(self.n_free)
            R = y[:, None] - H
            logN = -0.5 * np.log(2 * np.pi * nu) - R**2 / (2 * nu)
        with np.errstate(divide="ignore"):
            logG = np.log(G)
        L = logG + logN
        if gamma is None:
            m = np.max(L, axis=1, keepdims=True)
            lse = m[:, 0] + np.log(np.sum(np.exp(L - m), axis=1))
            gamma = np.exp(L - lse[:, None])  # responsibilities
            value = float(np.sum(lse))
        else:
            value = float(np.sum(np.where(gamma > 0, gamma * L, 0.0)))
        # d/ds through the normaliser: sum_j gamma_j dlog g_j/ds_i
        norm = self.gate.normaliser
        if norm in ("softmax", "top-k"):
            dlds = gamma - G
        elif norm == "sigmoid":
            dlds = gamma * (1 - G)  # not a mixture of probabilities; kept for completeness
        else:
            sig = sp.expit(S)
            dlds = gamma * (1 - sig) - G * (1 - sig) * gamma.sum(axis=1, keepdims=True)
        if self.density:  # d log D / d theta = (d D / d theta) / D
            cols = self._assemble(X, atoms, shared, dlds, G, mean_weight=gamma / H)
        else:
            weight = gamma * R / nu  # d log-lik / d h_i
            cols = self._assemble(X, atoms, shared, dlds, G, mean_weight=weight)
            dnu = gamma * (R**2 / (2 * nu**2) - 1 / (2 * nu))
            for i in range(self.k):
                cols[:, i * self.n_atom + self.n_atom - 1] = dnu[:, i]
        return value, cols.sum(axis=0)[self.free_index]

    def responsibilities(self, X, y, theta_free):
        full = self.full(theta_free)
        atoms, _ = self.split(full)
        _, G, H = self.parts(self.with_y(X, y), full)
        if self.density:
            with np.errstate(divide="ignore"):
                logN = np.log(H)
        else:
            nu = atoms[:, -1]
            logN = -0.5 * np.log(2 * np.pi * nu) - (y[:, None] - H) ** 2 / (2 * nu)
        with np.errstate(divide="ignore"):
            L = np.log(G) + logN
        L -= L.max(axis=1, keepdims=True)
        P = np.exp(L)
        return P / P.sum(axis=1, keepdims=True)


def _categorical(P: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row from the (unnormalised) probabilities in the rows of P."""
    u = rng.random(P.shape[0])[:, None]
    cdf = np.cumsum(P / P.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((cdf < u).sum(axis=1), P.shape[1] - 1)
