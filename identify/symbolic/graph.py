"""The parameter-interaction graph: parameters as nodes, relations as labelled edges."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

import networkx as nx

from identify.model.blocks import ParamBlock
from identify.symbolic.relations import Relation

__all__ = ["interaction_graph", "graph_edges"]


def interaction_graph(blocks: Sequence[ParamBlock], relations: Iterable[Relation]) -> nx.Graph:
    """Nodes: every scalar parameter (with its block and role). An edge joins two parameters
    differentiated together in some relation; its ``relations`` attribute lists them."""
    g = nx.Graph()
    for b in blocks:
        for s in b.symbols:
            g.add_node(s.name, block=b.name, role=b.role, relations=[])
    for r in relations:
        names = [n for n in r.parameters if n in g]
        if len(names) == 1:
            g.nodes[names[0]]["relations"].append(r.text)
        for u, v in combinations(names, 2):
            if not g.has_edge(u, v):
                g.add_edge(u, v, relations=[])
            g.edges[u, v]["relations"].append(r.text)
    return g


def graph_edges(g: nx.Graph) -> list[dict]:
    """JSON-ready edge list."""
    return [{"source": u, "target": v, "relations": list(d["relations"]),
             "label": "; ".join(d["relations"])} for u, v, d in g.edges(data=True)]


def graph_to_dict(g: nx.Graph) -> dict:
    """Nodes and edges as JSON-ready data."""
    return {
        "nodes": [{"id": n, "block": d["block"], "role": d["role"],
                   "relations": list(d["relations"])} for n, d in g.nodes(data=True)],
        "edges": graph_edges(g),
    }


def write_graph(g: nx.Graph, path: str) -> str:
    """Write the graph as JSON (``.json``) or GraphML (``.graphml``); returns the path."""
    import json

    from identify.errors import ConfigError

    if path.endswith(".json"):
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(graph_to_dict(g), fh, indent=2)
    elif path.endswith(".graphml"):
        flat = nx.Graph()
        for n, d in g.nodes(data=True):
            flat.add_node(n, block=d["block"], role=d["role"], relations="; ".join(d["relations"]))
        for u, v, d in g.edges(data=True):
            flat.add_edge(u, v, label="; ".join(d["relations"]))
        nx.write_graphml(flat, path)
    else:
        raise ConfigError(f"--graph writes .json or .graphml files, got {path!r}", where="graph")
    return path


def plot_graph(g: nx.Graph, path: str, title: str = "") -> str:
    """Draw the graph to ``.svg`` or ``.png`` with matplotlib; edges labelled by relation."""
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # do not switch a live session's backend
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from identify.errors import ConfigError

    if not path.endswith((".svg", ".png")):
        raise ConfigError(f"--plot writes .svg or .png files, got {path!r}", where="plot")
    fig, ax = plt.subplots(figsize=(7, 5))
    pos = nx.circular_layout(g) if len(g) > 2 else nx.spring_layout(g, seed=0)
    colours = ["#c8dcf0" if d["role"] == "gate" else "#f6d7b0" if d["role"] == "expert"
               else "#d5ecc2" for _, d in g.nodes(data=True)]
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colours, node_size=1300, edgecolors="#333")
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=9)
    nx.draw_networkx_edges(g, pos, ax=ax, width=1.5, edge_color="#555")
    labels = {(u, v): "\n".join(d["relations"][:2]) + ("\n..." if len(d["relations"]) > 2 else "")
              for u, v, d in g.edges(data=True)}
    nx.draw_networkx_edge_labels(g, pos, edge_labels=labels, ax=ax, font_size=6)
    ax.set_title(title or "parameter interactions (edges: relations coupling two parameters)",
                 fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
