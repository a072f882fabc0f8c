"""The literal identifiability conditions of the papers (theory.md section 3a).

Each condition is a family of functions of x built from the expert h alone, read as a
*set* (duplicates merged): it holds when, after merging duplicates, the family is linearly
independent. Evidence: a certified nonzero minor when it holds, a proved zero function or
non-duplicate relation when it fails.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction

import sympy

from identify.symbolic.analysis import FamilyAnalysis, analyze_family
from identify.symbolic.budget import Budget
from identify.symbolic.family import CONDITIONS, literal_family

__all__ = ["ConditionResult", "evaluate_conditions"]


@dataclass(frozen=True)
class ConditionResult:
    """One literal condition, evaluated at each atom."""

    key: str
    title: str
    statement: str
    source: str
    holds: bool | None
    analyses: tuple[FamilyAnalysis, ...]

    @property
    def evidence(self) -> str:
        a = self.analyses[0]
        if self.holds is False:
            # the failing atom need not be the first
            bad = [r for x in self.analyses
                   for r in (*x.zero_functions, *(r for r in x.relations if r.kind != "duplicate"))]
            r = bad[0]
            return f"{r.text} ({r.proof})"
        if self.holds:
            dup = sum(1 for r in a.relations if r.kind == "duplicate")
            sizes = ", ".join(str(x.certificate.size) for x in self.analyses if x.certificate)
            return (f"{a.size} functions, {dup} duplicate(s) merged, the {a.rank} distinct ones "
                    f"independent: nonzero minor of size {sizes} at each of "
                    f"{len(self.analyses)} atom(s), ball arithmetic")
        return "; ".join(a.notes or ("no certificate reached",))

    def to_dict(self) -> dict:
        a = self.analyses[0]
        return {
            "key": self.key,
            "title": self.title,
            "statement": self.statement,
            "source": self.source,
            "holds": self.holds,
            "evidence": self.evidence,
            "family_size": a.size,
            "distinct": a.size - len(a.zero_functions)
            - sum(1 for r in a.relations if r.kind == "duplicate"),
            "rank": a.rank,
            "zero_functions": [r.members[0].label for r in a.zero_functions],
            "relations": [r.to_dict() for r in a.relations],
            "certificates": [x.certificate.to_dict() for x in self.analyses if x.certificate],
        }


def evaluate_conditions(
    h: sympy.Expr,
    inputs: Sequence[sympy.Symbol],
    params: Sequence[sympy.Symbol],
    atoms: Sequence[dict[sympy.Symbol, Fraction]],
    seed: int = 0,
    positive: Collection[sympy.Symbol] = (),
    budget: Budget | None = None,
) -> dict[str, ConditionResult]:
    """Evaluate strong-LSE, strong-MLE and weak, each at every atom separately."""
    out: dict[str, ConditionResult] = {}
    for key, (title, statement, source) in CONDITIONS.items():
        members = literal_family(h, inputs, params, key)
        analyses = tuple(
            analyze_family(members, inputs, params, [{s: atom[s] for s in params}], seed=seed,
                           positive=positive, budget=budget, stage=f"the {key} condition")
            for atom in atoms)
        verdicts = [a.only_duplicates for a in analyses]
        holds: bool | None
        if any(v is False for v in verdicts):
            holds = False
        elif all(v is True for v in verdicts):
            holds = True
        else:
            holds = None
        out[key] = ConditionResult(key, title, statement, source, holds, analyses)
    return out
