"""The headline verdict does not depend on --order (issue 10): it is decided on the gated
family of order <= 2, the order of the papers' strong identifiability (theory.md section 3),
while relations of higher order are still found, proved and listed."""

from __future__ import annotations

import pytest

from identify import Verdict, check
from identify.cli import main
from identify.symbolic.check import VERDICT_ORDER

ORDERS = (2, 3, 4)


@pytest.mark.parametrize(("formula", "verdict"), [
    ("gelu(a*x+b)", Verdict.STRONG), ("tanh(a*x+b)", Verdict.STRONG),
    ("sigmoid(a*x+b)", Verdict.STRONG), ("a*x+b", Verdict.WEAK)])
def test_the_headline_verdict_is_the_same_at_every_order(formula, verdict):
    results = {o: check(formula, order=o) for o in (1, *ORDERS)}
    assert {o: r.verdict for o, r in results.items()} == dict.fromkeys(results, verdict)
    two = results[VERDICT_ORDER]
    assert two.verdict_family is None  # at order 2 the listed family is the verdict's
    for o, r in results.items():
        assert r.family.complete and r.order == o
        assert all(m.order <= o for m in r.family.members)
        if o != VERDICT_ORDER:
            vf = r.verdict_family
            # the verdict's family is the order-2 family: the same relations as at order 2
            assert vf is not None and vf.size == two.family.size and vf.rank == two.family.rank
            assert [x.text for x in vf.relations] == [x.text for x in two.relations]
            assert any("decided on the derivatives of order <= 2" in n for n in r.notes)
        else:
            assert not any("decided on the derivatives" in n for n in r.notes)


def test_gelu_has_non_duplicate_relations_at_order_three_that_do_not_decide():
    r = check("gelu(a*x+b)", order=3)
    kinds = {x.kind for x in r.relations}
    assert "relation" in kinds  # R5-R8: polynomial coefficients, order 3
    assert all(x.kind == "duplicate" for x in r.verdict_family.relations)
    assert [x.text for x in r.verdict_family.relations] == ["dF/da = d2F/(dbeta_1 db)"]
    assert r.verdict is Verdict.STRONG and "of order <= 2" in r.reason
    d = r.to_dict()
    assert d["verdict_order"] == 2 and d["verdict_family"]["complete"]
    assert len(d["relations"]) == 8 and len(d["verdict_family"]["relations"]) == 1


def test_a_non_duplicate_relation_of_order_two_still_decides_at_every_order():
    # erf'' = -2 z erf': a relation of order 2 that is not a duplicate
    for o in (1, 2, 3):
        r = check("erf(a*x+b)", order=o)
        decisive = r.verdict_family or r.family
        assert "2*a dF/da + 2*b dF/db + d2F/(db db) = 0" in [x.text for x in decisive.relations]
        assert r.verdict is Verdict.WEAK


@pytest.mark.parametrize("order", ORDERS)
def test_cli_headline_for_gelu(order, capsys):
    assert main(["check", "gelu(a*x+b)", "--order", str(order), "--quiet"]) == 0
    out = capsys.readouterr().out
    headline = [line for line in out.splitlines() if line.startswith("Verdict:")]
    assert headline and headline[0].startswith("Verdict: strongly identifiable"), headline
