"""The verdict: combine the gated family with the literal conditions (theory.md section 3).

- first-order degenerate: a relation among the first derivatives alone (some direction is
  invisible even at exact fit); overrides the literal conditions.
- strongly identifiable: the literal strong condition holds and every relation of the
  gated family of order <= 2 is a duplicate (two members that are the same function).

The family passed in is the gated family of order <= 2 (``check.VERDICT_ORDER``) whatever
``--order`` is: the papers' strong identifiability is about derivatives of order <= 2, the
weak condition and first-order degeneracy about first derivatives, so relations of order 3
or more (which exist for every expert: gelu has non-duplicate ones at order 3) do not enter
the verdict, and the verdict does not depend on ``--order``.
- weakly identifiable: the weak condition holds, the strong one does not.
- not identifiable: the weak condition fails.
- inconclusive: a needed certificate was not reached.

This verdict reads the *form* of the relations (duplicates or not), which a change of
parameters can alter (theory.md section 3, "Caution"). The verdict derived from the cell
systems, invariant under reparametrisation, is ``identify.theory.classify.derived_verdict``
(``Prediction.verdict``; printed by ``identify rates`` and ``identify check``); it lives in
``identify.theory`` because ``identify.symbolic`` must not import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from identify.symbolic.analysis import FamilyAnalysis
from identify.symbolic.conditions import ConditionResult

__all__ = ["Verdict", "decide"]


class Verdict(StrEnum):  # compares equal to its text: verdict == "strongly identifiable"
    STRONG = "strongly identifiable"
    WEAK = "weakly identifiable"
    FIRST_ORDER = "first-order degenerate"
    NOT = "not identifiable"
    INCONCLUSIVE = "inconclusive"


def separable(relation, leaf_of: Mapping[str, str | None]) -> bool:
    """A zero function mixing the parameters of two different experts of one atom (the
    hierarchical gate's group): the atom is a sum over experts, so such mixed derivatives
    vanish by construction and say nothing about any one expert."""
    if relation.kind != "zero":
        return False
    leaves = {leaf_of.get(n) for n in relation.members[0].derivative} - {None}
    return len(leaves) > 1


def decide(family: FamilyAnalysis, conditions: dict[str, ConditionResult],
           strong_key: str, leaf_of: Mapping[str, str | None] | None = None
           ) -> tuple[Verdict, str]:
    """The verdict and its reason, in one sentence each."""
    leaf_of = leaf_of or {}
    first = [r for r in family.relations + family.zero_functions
             if all(m.order == 1 for m in r.members)]
    if first:
        r = first[0]
        return Verdict.FIRST_ORDER, (
            f"the first derivatives are linearly dependent: {r.text} ({r.proof}); the parameter "
            f"direction it names cannot be seen even at exact fit")
    strong, weak = conditions[strong_key], conditions["weak"]
    gated_bad = [r for r in family.zero_functions if not separable(r, leaf_of)] + [
        r for r in family.relations if r.kind != "duplicate"]
    top = max((m.order for m in family.members), default=0)
    if strong.holds and not gated_bad and family.complete:
        dups = "; ".join(r.text for r in family.relations) or "none"
        return Verdict.STRONG, (
            f"the literal {strong.title} condition holds and every relation of the gated family "
            f"of order <= {top} is a duplicate, merged when the family is read as a set ({dups}); rank "
            f"{family.joint_rank} certified over {family.atoms} atom(s)")
    if strong.holds is False or gated_bad:
        why = (f"{strong.evidence}" if strong.holds is False
               else f"the gated family of order <= {top} has the relation {gated_bad[0].text}")
        if weak.holds:
            return Verdict.WEAK, (f"the weak condition holds (certified) but strong "
                                  f"identifiability fails: {why}")
        if weak.holds is False:
            return Verdict.NOT, f"even the weak condition fails: {weak.evidence}"
    notes = "; ".join(family.notes) or "a certificate was not reached"
    return Verdict.INCONCLUSIVE, f"no proof either way: {notes}"
