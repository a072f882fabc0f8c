"""The time budget of `check` and its progress messages (issue 10, part 3)."""

from __future__ import annotations

import json
import time

import pytest

from identify import ConfigError, Verdict, check
from identify.cli import main


def test_a_spent_budget_ends_inconclusive_with_what_was_proved():
    start = time.perf_counter()
    r = check("gelu(a*x+b)", order=3, budget=0.05)
    assert time.perf_counter() - start < 60
    assert r.verdict is Verdict.INCONCLUSIVE
    assert not r.family.complete
    assert any("time budget of 0.05 s was spent" in n for n in r.notes)
    assert "time budget" in r.reason


def test_what_was_proved_stands_when_the_budget_is_spent():
    import sympy

    from identify.symbolic.analysis import analyze_family
    from identify.symbolic.budget import Budget
    from identify.symbolic.family import taylor_family

    x, beta1, a = sympy.symbols("x beta1 a", real=True)
    spent = Budget(1e-9)
    time.sleep(0.01)
    members = taylor_family(sympy.exp(beta1 * x) * sympy.exp(a * x), [beta1, a], 2)
    fam = analyze_family(members, [x], [beta1, a], [{beta1: sympy.Rational(1, 3),
                                                     a: sympy.Rational(2, 5)}], budget=spent)
    # the structural pass proves dF/dbeta1 = dF/da (identical expressions) before any search
    assert any(r.text == "dF/dbeta_1 = dF/da" for r in fam.relations)
    assert not fam.complete and spent.note


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "10"])
def test_a_bad_budget_is_one_clear_error(bad):
    with pytest.raises(ConfigError, match="budget"):
        check("tanh(a*x+b)", budget=bad)


def test_short_work_prints_no_progress(capsys):
    assert main(["check", "tanh(a*x)"]) == 0
    assert capsys.readouterr().err == ""


def test_progress_goes_to_stderr_and_never_to_stdout(capsys, monkeypatch):
    monkeypatch.setattr("identify.cli.PROGRESS_AFTER", 0.0)  # as if the work were long
    assert main(["check", "tanh(a*x+b)"]) == 0
    out, err = capsys.readouterr()
    assert "check: gated family" in err and "check: gated family" not in out
    assert "strongly identifiable" in out


def test_quiet_and_json_have_no_progress(capsys, monkeypatch):
    monkeypatch.setattr("identify.cli.PROGRESS_AFTER", 0.0)
    assert main(["check", "tanh(a*x+b)", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "strongly identifiable" in out
    assert main(["check", "tanh(a*x+b)", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["verdict"] == "strongly identifiable"


def test_cli_budget_flag(capsys):
    assert main(["check", "gelu(a*x+b)", "--order", "3", "--budget", "0.05", "--quiet"]) == 0
    out, _ = capsys.readouterr()
    assert "inconclusive" in out
    assert main(["check", "tanh(a*x+b)", "--budget", "-3"]) == 2
    assert "budget" in capsys.readouterr().err


def test_a_huge_family_stops_at_the_budget():
    # ridge-tanh at d = 8, order 4: thousands of derivatives; minutes without a budget
    start = time.perf_counter()
    r = check(catalog="ridge-tanh", dim=8, order=4, atoms=6, budget=2)
    assert time.perf_counter() - start < 60
    assert r.verdict is Verdict.INCONCLUSIVE
    assert any("spent during the derivatives" in n for n in r.notes)
    assert r.to_dict()["verdict"] == "inconclusive"
