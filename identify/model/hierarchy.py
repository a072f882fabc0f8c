"""The hierarchical softmax gate, analysed as the model it is.

A hierarchical MoE is a tree: the root's softmax picks a group, each internal node's
softmax picks a child, experts sit at the leaves (arXiv:2503.03213, 2410.02935). The
top-level softmax behaves like a flat softmax over groups: its bias is the group's weight
and its slope beta1 gives the kernel exp(beta1 . x). Inside a group the inner softmaxes do
*not* cancel, so one atom of the analysis is a whole top-level group:

    F = exp(beta1 . x) * N(group),
    N(leaf) = h(x; eta_leaf),
    N(v) = sum_c exp(gamma_c . x + alpha_c) N(c) / sum_c exp(gamma_c . x + alpha_c),

with every internal node's last child pinned (gamma, alpha) = (0, 0) for softmax
invariance, and the outer slope beta1 shared by every expert of the group. Each leaf has
its own copy of the expert's parameters, suffixed by the leaf's name (``a_e1``).

``form=path`` analyses instead the naive per-path product exp(beta1 . x) exp(gamma . x) h,
one leaf with no sharing and no pinning. It has the relation dF/dbeta1 = dF/dgamma (the two
slopes only enter through their sum); the group function above shows which relations
survive sharing and pinning.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import networkx as nx
import sympy

from identify.errors import ConfigError
from identify.model.blocks import ParamBlock
from identify.model.gate import Gate, dot, vector
from identify.model.parse import make_symbol

if TYPE_CHECKING:  # pragma: no cover
    from identify.model.expert import Expert

__all__ = ["Hierarchical", "default_tree"]

_NODE = re.compile(r"[A-Za-z0-9]+")


def default_tree(groups: int = 2, inner: int = 2) -> nx.DiGraph:
    """root -> g1..g<groups>, each group -> its leaves; leaves of g1 are e1..e<inner>."""
    t = nx.DiGraph()
    n = 0
    for g in range(1, groups + 1):
        t.add_edge("root", f"g{g}")
        for _ in range(inner):
            n += 1
            t.add_edge(f"g{g}", f"e{n}")
    return t


class Hierarchical(Gate):
    """Hierarchical softmax gate (a softmax tree); see the module docstring for the family."""

    name = "hierarchical"
    summary = ("softmax tree: outer softmax over groups, inner softmax over a group's experts; "
               "one atom = one top-level group")
    reference = "arXiv:2503.03213, arXiv:2410.02935"
    _options = {"inner": (int, 2), "form": (str, "model")}
    # numerically a flat softmax over top-level groups whose "expert" is the group function
    normaliser = "softmax"

    def __init__(self, tree: nx.DiGraph | None = None, **options: Any):
        self.tree = tree
        super().__init__(**options)

    def _validate(self) -> None:
        if self.options["form"] not in ("model", "path"):
            raise ConfigError(f"form must be 'model' or 'path', got {self.options['form']!r}",
                              where="gate")
        if self.tree is None:
            if not 1 <= self.options["inner"] <= 4:
                raise ConfigError(f"inner must be from 1 to 4 experts per group, got "
                                  f"{self.options['inner']}", where="gate")
            self.tree = default_tree(2, self.options["inner"])
        if not isinstance(self.tree, nx.DiGraph) or not nx.is_arborescence(self.tree):
            raise ConfigError("the hierarchy must be a tree: a networkx DiGraph with one root and "
                              "every other node reached by exactly one edge", where="gate")
        for node in self.tree.nodes:
            if not _NODE.fullmatch(str(node)):
                raise ConfigError(f"tree node names must be letters and digits, got {node!r}",
                                  where="gate")
        root = self.root
        if self.tree.out_degree(root) < 1:
            raise ConfigError("the hierarchy's root has no children", where="gate")

    @property
    def root(self) -> Any:
        return next(n for n, d in self.tree.in_degree() if d == 0)

    @property
    def group(self) -> Any:
        """The analysed top-level group (the root's first child)."""
        return next(iter(self.tree.successors(self.root)))

    def blocks(self, dim: int) -> tuple[ParamBlock, ...]:
        blocks = [ParamBlock("beta1", vector("beta1", dim), role="gate")]
        if self.options["form"] == "path":
            return (*blocks, ParamBlock("gamma", vector("gamma", dim), role="gate"))
        for v in nx.dfs_preorder_nodes(self.tree, self.group):
            children = list(self.tree.successors(v))
            for c in children[:-1]:  # the last child is pinned
                blocks.append(ParamBlock(f"gamma_{c}", vector(f"gamma_{c}", dim), role="gate"))
                blocks.append(ParamBlock(f"alpha_{c}", (make_symbol(f"alpha_{c}"),), role="gate"))
        return tuple(blocks)

    def kernel(self, inputs: tuple[sympy.Symbol, ...], dim: int) -> sympy.Expr:
        k = sympy.exp(dot(vector("beta1", dim), inputs))
        if self.options["form"] == "path":
            k = k * sympy.exp(dot(vector("gamma", dim), inputs))
        return k

    def reserved_names(self, dim: int) -> frozenset[str]:
        """The gate's names, and the stems ``gamma``/``alpha``: an expert parameter ``p`` is
        renamed ``p_<leaf>`` per leaf, which for these would be a gate parameter."""
        return super().reserved_names(dim) | {"gamma", "alpha"}

    def leaves(self) -> list[Any]:
        return [n for n in nx.dfs_preorder_nodes(self.tree, self.group)
                if self.tree.out_degree(n) == 0]

    def product(self, inputs: tuple[sympy.Symbol, ...], expert: Expert
                ) -> tuple[sympy.Expr, tuple[ParamBlock, ...]]:
        if self.options["form"] == "path":
            return super().product(inputs, expert)
        group, leaf_blocks = self.group_function(inputs, expert)
        return self.kernel(inputs, expert.dim) * group, self.blocks(expert.dim) + leaf_blocks

    def leaf_terms(self, inputs: tuple[sympy.Symbol, ...], expert: Expert
                   ) -> list[tuple[str, sympy.Expr, sympy.Expr]]:
        """For each expert of the analysed group: (leaf name, its probability within the group
        as a product of inner softmax probabilities along its path, its renamed expert)."""
        dim = expert.dim
        out = []
        for leaf in self.leaves():
            path = nx.shortest_path(self.tree, self.group, leaf)
            prob = sympy.Integer(1)
            for parent, child in zip(path, path[1:], strict=False):
                children = list(self.tree.successors(parent))
                scores = {c: sympy.exp(dot(vector(f"gamma_{c}", dim), inputs)
                                       + make_symbol(f"alpha_{c}")) for c in children[:-1]}
                scores[children[-1]] = sympy.Integer(1)
                prob = prob * scores[child] / sympy.Add(*scores.values())
            rename = {s: make_symbol(f"{s.name}_{leaf}") for s in expert.parameters}
            out.append((str(leaf), prob, expert.expr.xreplace(rename)))
        return out

    def group_function(self, inputs: tuple[sympy.Symbol, ...], expert: Expert
                       ) -> tuple[sympy.Expr, tuple[ParamBlock, ...]]:
        """N(group): the inner softmax tree over the group's experts, and the experts' blocks.

        The whole mixture is a flat softmax over top-level groups whose "expert" is N(group);
        that is how ``identify.numeric`` simulates it."""
        dim = expert.dim
        leaf_blocks: list[ParamBlock] = []
        leaf_expr: dict[Any, sympy.Expr] = {}
        for leaf in self.leaves():
            rename = {s: make_symbol(f"{s.name}_{leaf}") for s in expert.parameters}
            leaf_expr[leaf] = expert.expr.xreplace(rename)
            leaf_blocks += [ParamBlock(f"{b.name}_{leaf}", tuple(rename[s] for s in b.symbols),
                                       role=b.role, positive=b.positive, leaf=str(leaf))
                            for b in expert.blocks]

        def node(v: Any) -> sympy.Expr:
            children = list(self.tree.successors(v))
            if not children:
                return leaf_expr[v]
            scores = [sympy.exp(dot(vector(f"gamma_{c}", dim), inputs) + make_symbol(f"alpha_{c}"))
                      for c in children[:-1]] + [sympy.Integer(1)]
            total = sympy.Add(*scores)
            return sympy.Add(*[s * node(c) for s, c in zip(scores, children, strict=True)]) / total

        return node(self.group), tuple(leaf_blocks)
