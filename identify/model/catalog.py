"""The built-in catalog of experts.

Every entry is only a formula template: ``resolve_expert`` writes the formula out for the
requested dimension and parses it exactly like a formula a user typed, so a catalog
entry gets no special treatment anywhere in the analysis.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from identify.errors import ConfigError
from identify.model.expert import Expert, input_names

__all__ = ["CatalogEntry", "CATALOG", "catalog_formula", "resolve_expert", "dot"]

ACTIVATIONS = ("sigmoid", "tanh", "gelu", "softplus", "relu", "identity")


def dot(stem: str, dim: int) -> str:
    """``a*x`` for d = 1, ``a1*x1 + a2*x2 + ...`` otherwise."""
    xs = input_names(dim)
    if dim == 1:
        return f"{stem}*x"
    return " + ".join(f"{stem}{i}*{x}" for i, x in enumerate(xs, start=1))


def _apply(phi: str, inner: str) -> str:
    return f"({inner})" if phi == "identity" else f"{phi}({inner})"


@dataclass(frozen=True)
class CatalogEntry:
    """A named expert family: a description and a formula template in the dimension."""

    name: str
    description: str
    template: Callable[[int], str]

    def formula(self, dim: int = 1) -> str:
        return self.template(dim)


def _entries() -> dict[str, CatalogEntry]:
    out: list[CatalogEntry] = [
        CatalogEntry("linear", "linear expert a.x + b", lambda d: f"{dot('a', d)} + b"),
    ]
    for p in (2, 3):
        out.append(CatalogEntry(f"polynomial-{p}", f"polynomial of degree {p}: (a.x + b)^{p}",
                                lambda d, p=p: f"({dot('a', d)} + b)**{p}"))
    for phi in ACTIVATIONS:
        out.append(CatalogEntry(f"ridge-{phi}", f"two-layer FFN ridge {phi}(a.x + b)",
                                lambda d, phi=phi: _apply(phi, f"{dot('a', d)} + b")))
    for phi in ACTIVATIONS:
        out.append(CatalogEntry(f"ridge-{phi}-nobias", f"bias-free ridge {phi}(a.x)",
                                lambda d, phi=phi: _apply(phi, dot("a", d))))
    for phi in ACTIVATIONS:
        out.append(CatalogEntry(f"scaled-{phi}", f"output-scaled ridge c * {phi}(a.x)",
                                lambda d, phi=phi: f"c*{_apply(phi, dot('a', d))}"))
    out.append(CatalogEntry("constant", "input-independent constant expert c", lambda d: "c"))
    return {e.name: e for e in out}


CATALOG: dict[str, CatalogEntry] = _entries()


def catalog_formula(name: str, dim: int = 1) -> str:
    """The formula of catalog entry ``name`` in dimension ``dim``."""
    try:
        entry = CATALOG[name.strip().lower()]
    except KeyError:
        raise ConfigError(f"unknown catalog expert {name!r}; run `identify catalog` for the list",
                          where="expert") from None
    return entry.formula(dim)


def resolve_expert(name: str, dim: int = 1, reserved: Collection[str] = ()) -> Expert:
    """Parse a catalog entry's formula like any user formula, remembering its name."""
    return Expert.from_formula(catalog_formula(name, dim), dim, reserved=reserved,
                               name=name.strip().lower())
