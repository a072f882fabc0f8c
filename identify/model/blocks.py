"""Parameter blocks: named groups of parameters (a scalar, or a vector such as a = (a1, a2))."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sympy

from identify.errors import FormulaError

__all__ = ["ParamBlock", "group_blocks"]


@dataclass(frozen=True)
class ParamBlock:
    """A named group of parameters that share a rate (theory.md section 2: one exponent per block).

    Attributes
    ----------
    name:
        The block's name, e.g. ``"a"`` or ``"beta1"``.
    symbols:
        The scalar parameters of the block, in order.
    role:
        ``"gate"`` or ``"expert"`` (or ``"variance"`` for the Gaussian MoE).
    positive:
        The parameters are constrained to be positive (temperature, variance).
    leaf:
        For a gate with several experts per atom (hierarchical): which expert copy.
    """

    name: str
    symbols: tuple[sympy.Symbol, ...]
    role: str = "expert"
    positive: bool = False
    leaf: str | None = None

    @property
    def size(self) -> int:
        return len(self.symbols)

    def to_dict(self) -> dict:
        return {"name": self.name, "parameters": [s.name for s in self.symbols], "role": self.role,
                "positive": self.positive, "leaf": self.leaf}


_INDEXED = re.compile(r"^(?P<stem>[A-Za-z_][A-Za-z_]*?)_?(?P<index>[1-9]\d*)$")


def group_blocks(symbols: Sequence[sympy.Symbol], dim: int, role: str = "expert") -> tuple[ParamBlock, ...]:
    """Group scalar parameters into blocks, keeping the order of first appearance.

    With ``dim >= 2``, parameters ``<stem>1 .. <stem>d`` (all of them present) form the vector
    block ``<stem>``; every other parameter is a scalar block of its own.
    """
    by_stem: dict[str, dict[int, sympy.Symbol]] = {}
    twins: dict[str, list[tuple[sympy.Symbol, sympy.Symbol]]] = {}
    if dim >= 2:
        for s in symbols:
            m = _INDEXED.match(s.name)
            if m:
                members = by_stem.setdefault(m["stem"], {})
                index = int(m["index"])
                if index in members and members[index] != s:
                    twins.setdefault(m["stem"], []).append((members[index], s))
                members.setdefault(index, s)
    vector_stems = {
        stem for stem, members in by_stem.items() if set(members) == set(range(1, dim + 1))
    }
    for stem in vector_stems & set(twins):
        u, v = twins[stem][0]
        raise FormulaError(f"the parameters {u.name} and {v.name} would both be component "
                           f"{_INDEXED.match(v.name)['index']} of the vector {stem}; rename one",
                           where="formula")
    blocks: list[ParamBlock] = []
    seen: set[str] = set()
    for s in symbols:
        m = _INDEXED.match(s.name) if dim >= 2 else None
        if m and m["stem"] in vector_stems:
            stem = m["stem"]
            if stem not in seen:
                seen.add(stem)
                members = by_stem[stem]
                blocks.append(ParamBlock(stem, tuple(members[i] for i in range(1, dim + 1)), role))
        else:
            blocks.append(ParamBlock(s.name, (s,), role))
    names = [b.name for b in blocks]
    for b in blocks:
        if names.count(b.name) > 1 and b.size > 1:
            raise FormulaError(f"the vector {b.name} ({', '.join(s.name for s in b.symbols)}) "
                               f"and the parameter {b.name} have the same name; rename one",
                               where="formula")
    return tuple(blocks)


def flatten(blocks: Iterable[ParamBlock]) -> tuple[sympy.Symbol, ...]:
    """All scalar parameters of the blocks, in order."""
    return tuple(s for b in blocks for s in b.symbols)
